"""Hosts syncing one catalog into one database at the same moment (issue 13), on both backends."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from hfdl.catalog import load_catalog
from hfdl.store import Store


def test_simultaneous_syncs_of_one_catalog_insert_each_model_once(
    database_url: str, tmp_path: Path
) -> None:
    catalog_path = tmp_path / "models.json"
    names = [f"org/model-{index}" for index in range(20)]
    entries = [{"name": name, "enabled": True} for name in names]
    catalog_path.write_text(json.dumps({"models": entries}))
    catalog = load_catalog(catalog_path)
    Store(database_url).close()  # the schema exists; only the syncs race
    stores = [Store(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []
    added: list[tuple[str, ...]] = []

    def sync(store: Store) -> None:
        barrier.wait()
        try:
            added.append(store.sync_catalog(catalog).added)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=sync, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        # One sync added every model; the others found them there.
        assert sorted(len(names_added) for names_added in added) == [0, 0, 0, len(names)]
        assert sorted(model.name for model in stores[0].list_models()) == sorted(names)
    finally:
        for store in stores:
            store.close()
