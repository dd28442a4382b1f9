"""Full-text search over speech transcripts: two stored generated tsvector columns + partial GIN indexes.

``fts_original`` = ``to_tsvector('simple', text)`` (the original words: any language, so no stemming and no
stop words), ``fts_english`` = ``to_tsvector('english', data->>'text_en')`` (stemmed), both NULL for other
plugins' rows, each with a GIN index ``WHERE plugin = 'speech_translation'``.

Why stored columns and not expression indexes (the first version of this migration): an expression index
finds the rows, but ``ts_rank_cd`` then re-parses every matching segment. Measured on 200,000 synthetic
segments (contended 2-core VM): a word in 32,000 segments ranked in 2,576 ms with expression indexes and in
294 ms with stored columns (9x); a rare word 385 -> 140 ms. The cost: a tsvector per speech segment on disk
and a table rewrite when this migration runs (60 s for 200,000 rows on that VM). The columns are not model
fields (``retrieval_finding`` is shared by every plugin; the ORM never writes them: PostgreSQL computes them).
Queries use them through ``services.transcripts.TSV_ORIGINAL`` / ``TSV_ENGLISH``.
"""

from django.db import migrations

COLUMNS = {
    "fts_original": "to_tsvector('simple'::regconfig, text)",
    "fts_english": "to_tsvector('english'::regconfig, COALESCE(data->>'text_en', ''))",
}


def _forward() -> list[str]:
    sql = []
    for column, expr in COLUMNS.items():
        sql.append(f'ALTER TABLE "retrieval_finding" ADD COLUMN "{column}" tsvector GENERATED ALWAYS AS '
                   f"(CASE WHEN plugin = 'speech_translation' THEN {expr} END) STORED")
        sql.append(f'CREATE INDEX "finding_{column}" ON "retrieval_finding" USING gin ("{column}") '
                   "WHERE plugin = 'speech_translation'")
    return sql


class Migration(migrations.Migration):
    dependencies = [("retrieval", "0003_saved_searches")]

    operations = [
        migrations.RunSQL(
            sql=_forward(),
            reverse_sql=[f'ALTER TABLE "retrieval_finding" DROP COLUMN IF EXISTS "{c}"' for c in COLUMNS],
        ),
    ]
