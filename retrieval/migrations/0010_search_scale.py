"""Indexes for search pages at scale (issue 9: 100,000 transcript segments and audio events in a case).

``finding_speech_language``: the language drop-down of the transcript search page (``services.transcripts.
languages``) walks the distinct languages of the visible cases with a loose index scan (one index probe per
language) instead of reading every transcript row's JSON (300 ms at 120,000 segments).

``finding_event_class``: the sound-event search filters ``label IN (types) OR data->'audioset_class' IN
(types)``; with this index next to ``(plugin, label)`` both arms are index scans (a BitmapOr) instead of a
scan of every finding without a vector.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("retrieval", "0009_references")]

    operations = [
        migrations.RunSQL(
            sql=["CREATE INDEX IF NOT EXISTS \"finding_speech_language\" ON \"retrieval_finding\" "
                 "((data->>'language'), case_id) WHERE plugin = 'speech_translation'",
                 "CREATE INDEX IF NOT EXISTS \"finding_event_class\" ON \"retrieval_finding\" "
                 "((data->'audioset_class')) WHERE plugin = 'audio_events'"],
            reverse_sql=['DROP INDEX IF EXISTS "finding_speech_language"', 'DROP INDEX IF EXISTS "finding_event_class"'],
        ),
    ]
