"""``python -m cues.services.cli``: the ``cues`` command without its console script (a Ray job's entrypoint runs
this with the cluster's Python, so the job does not depend on where pip put the script)."""

from cues.services.cli.app import main

if __name__ == "__main__":
    main()
