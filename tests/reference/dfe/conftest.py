"""DfE's validator runs in its own venv: pytest does not import these scripts."""

collect_ignore = ["run_dfe.py", "stubs"]
