"""First-party model plugins, one package each; registered under the ``mmsec.plugins`` entry-point group."""
