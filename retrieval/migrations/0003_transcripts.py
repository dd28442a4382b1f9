"""Full-text search over speech transcripts: two partial expression GIN indexes on retrieval_finding.

Why expression indexes and not a generated ``tsvector`` column: ``retrieval_finding`` is shared by every
plugin and most rows (faces, frames, audio events) carry no text; a partial index on
``plugin = 'speech_translation'`` costs nothing for them, needs no change to the model or to the bulk upsert
in ``services.embeddings.store_findings``, and ``ts_rank_cd``/``ts_headline`` only re-parse the few short
segments that matched. Two indexes rather than one concatenated vector: the original words use the
``'simple'`` configuration (any language: no stemming, no stop words) and the English translation the
``'english'`` one, queried with their own ``tsquery``; the planner ORs two bitmap index scans.
The expressions must stay identical to ``services.transcripts.TSV_ORIGINAL`` / ``TSV_ENGLISH``.
"""

from django.db import migrations

INDEXES = {
    "finding_fts_original": "to_tsvector('simple'::regconfig, text)",
    "finding_fts_english": "to_tsvector('english'::regconfig, COALESCE(data->>'text_en', ''))",
}


class Migration(migrations.Migration):
    dependencies = [("retrieval", "0002_watchlists")]

    operations = [
        migrations.RunSQL(
            sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "retrieval_finding" USING gin (({expr})) '
                "WHERE plugin = 'speech_translation'",
            reverse_sql=f'DROP INDEX IF EXISTS "{name}"',
        )
        for name, expr in INDEXES.items()
    ]
