"""The ``hfdl models`` use cases: list/show/add/update (``manage``), the Hub check before adding
(``hub_check``), removal (``remove``) and the shapes they return (``views``)."""
