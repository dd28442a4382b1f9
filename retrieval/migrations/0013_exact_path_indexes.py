"""The covering exact-path btree (``services.embeddings.exact_index_sql``) for spaces created before it existed.

New spaces get it from ``ensure_space_index``. A plain (locking) ``CREATE INDEX``: about 5 s per million
128-d findings; run it in a quiet hour on a large database.
"""

from django.db import migrations

from retrieval.services.embeddings import EXACT_INDEX_MAX_DIM, exact_index_name, exact_index_sql


def create(apps, schema_editor):
    space_model = apps.get_model("retrieval", "EmbeddingSpace")
    for pk in space_model.objects.filter(dim__lte=EXACT_INDEX_MAX_DIM).values_list("pk", flat=True):
        schema_editor.execute(exact_index_sql(pk))


def drop(apps, schema_editor):
    for pk in apps.get_model("retrieval", "EmbeddingSpace").objects.values_list("pk", flat=True):
        schema_editor.execute(f'DROP INDEX IF EXISTS "{exact_index_name(pk)}"')


class Migration(migrations.Migration):

    dependencies = [
        ("retrieval", "0012_partial_analysis_warnings"),
    ]

    operations = [migrations.RunPython(create, drop)]
