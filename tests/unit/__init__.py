"""The unit tier: fast tests of hfdl's pure cores, laid out like the package.

``tests/unit/engine/test_select.py`` tests ``hfdl/engine/select.py``, and so on. Run the tier
alone with ``uv run pytest tests/unit``; it must stay under 5 seconds in all.

What belongs here:

- functions that decide (which models a run takes, what fits on disk, whether to retry, what
  a schedule or a setting may be) called directly with real hfdl objects built in the test;
- no I/O beyond files under ``tmp_path`` and reading files committed in the repository (such
  as ``docs/configuration.md``): no subprocess, no network, no Hub server, no systemd, no
  sleeping longer than a few milliseconds;
- no mocks of hfdl's own code: when a core needs a collaborator, the test passes a real one
  (or the injection point the core offers for it, such as ``RetryPolicy.stop``).

What does not: anything that runs the ``hfdl`` command, starts a process, talks to the local
Hub server (``tests/hubserver``) or to systemd. Those are the end-to-end tiers (``tests/e2e/``
and ``tests/systemd/``), which show that the pieces work together as a user sees them; a unit
test here pins one rule precisely, with the inputs an end-to-end test cannot easily reach.
"""
