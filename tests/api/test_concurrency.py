"""Many parallel writers on one entity, each reading, changing and saving with If-Match and
retrying when refused: every change lands, none is lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.api.conftest import Api, job

from jobgraph.auth import Role

WRITERS = 6
EACH = 5


def test_parallel_writers_never_lose_an_update(api: Api) -> None:
    jid = api.seed(job("busy"))
    url = f"/api/v1/entities/{jid}"

    def writer(n: int) -> None:
        client = api.client(Role.CONTRIBUTOR)
        for i in range(EACH):
            while True:
                current = client.get(url)
                assert current.status_code == 200, current.text
                tags = [*current.json()["data"].get("tags", []), f"w{n}-{i}"]
                r = client.patch(
                    url,
                    json={"changes": {"tags": tags}, "reason": f"writer {n} step {i}"},
                    headers={"If-Match": current.headers["ETag"]},
                )
                if r.status_code == 412:
                    assert r.json()["error"]["details"]["current_version"] > 1
                    continue
                assert r.status_code == 200, r.text
                break

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))

    final = api.workspace.get(jid)
    expected = {f"w{n}-{i}" for n in range(WRITERS) for i in range(EACH)}
    assert set(final.entity.tags) == expected
    assert len(final.entity.tags) == WRITERS * EACH
    assert final.version == 1 + WRITERS * EACH
    versions = [r.version for r in api.workspace.history(jid)]
    assert versions == list(range(1, WRITERS * EACH + 2))
