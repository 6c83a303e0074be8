"""``hfdl cleanup``: revisions and partials (``clean``), files narrowed patterns no longer select
(``files``), the safety rules (``safety``) and the report (``report``)."""
