# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster table, the primary-master lease, the shard map and the shard-topology rule.

Shared by the coreapp nodes (which write it) and the web app (which reads it to route requests).

Rules (emulator assumptions, see README.md):
- every coreapp and master registers a row keyed by its ``hostname:container-id`` node id and beats every
  ``WA_EMU_HEARTBEAT_SECONDS``; a node stopped with SIGTERM marks its row stopped and releases the lease;
- a row that is stopped or has not beaten for three intervals is a node that cannot be reached;
- a master that becomes primary prunes the stopped rows (a previous life of this database, such as the old
  setup of a migration); rows silent for ``WA_EMU_NODE_EXPIRY_SECONDS`` are pruned at any time;
- the topology recorded at registration, set-shards or restore (masters, coreapps, shards) must equal the
  registered rows, or every node refuses to serve: a migration onto a setup with another shard count fails.
"""

import zlib

from .store import now_ms

LEASE_MS = 8000
VALID_SHARDS = (1, 2, 4, 8, 16, 32)


class Cluster:
    def __init__(self, config, store):
        self.config = config
        self.store = store
        self.db = config.core_db_name

    # nodes -----------------------------------------------------------------------------------
    def nodes(self):
        rows = self.store.query(self.db, "SELECT node_id, service, role, host, base_port, started_at, heartbeat_at "
                                         "FROM nodes ORDER BY service, node_id")
        keys = ("node_id", "service", "role", "host", "base_port", "started_at", "heartbeat_at")
        return [dict(zip(keys, row)) for row in rows]

    def is_up(self, node):
        stale_ms = 3 * self.config.heartbeat_seconds * 1000
        return node["heartbeat_at"] > 0 and now_ms() - node["heartbeat_at"] <= stale_ms

    def register(self, role, started_at):
        cfg = self.config
        self.store.upsert(self.db, "nodes", ["node_id"], {
            "node_id": cfg.node_id, "service": cfg.service_name, "role": role, "host": cfg.core_hostname,
            "base_port": cfg.core_base_port, "started_at": started_at, "heartbeat_at": now_ms()})

    def beat(self):
        return self.store.execute(self.db, "UPDATE nodes SET heartbeat_at = %s WHERE node_id = %s",
                                  (now_ms(), self.config.node_id))

    def mark_stopped(self):
        self.store.execute(self.db, "UPDATE nodes SET heartbeat_at = 0 WHERE node_id = %s", (self.config.node_id,))
        self.store.execute(self.db, "UPDATE lease SET expires_at = 0 WHERE name = 'primary' AND holder = %s",
                           (self.config.node_id,))

    def prune(self, stopped_too):
        expiry = now_ms() - int(self.config.node_expiry_seconds * 1000)
        if stopped_too:
            self.store.execute(self.db, "DELETE FROM nodes WHERE heartbeat_at = 0 AND node_id <> %s",
                               (self.config.node_id,))
        self.store.execute(self.db, "DELETE FROM nodes WHERE heartbeat_at > 0 AND heartbeat_at < %s", (expiry,))

    # lease -----------------------------------------------------------------------------------
    def try_lease(self):
        """Take or renew the primary-master lease; True when this node holds it afterwards."""
        me, now = self.config.node_id, now_ms()
        renewed = self.store.execute(
            self.db, "UPDATE lease SET holder = %s, expires_at = %s WHERE name = 'primary' "
                     "AND (holder = %s OR expires_at < %s)", (me, now + LEASE_MS, me, now))
        if not renewed:
            try:
                self.store.execute(self.db, "INSERT INTO lease (name, holder, expires_at) VALUES ('primary', %s, %s)",
                                   (me, now + LEASE_MS))
            except Exception:  # pylint: disable=broad-except
                pass  # the row exists and another master holds it
        return self.primary_id() == me

    def primary_id(self):
        row = self.store.query_one(self.db, "SELECT holder, expires_at FROM lease WHERE name = 'primary'")
        if row and row[1] >= now_ms():
            return row[0]
        return None

    # topology --------------------------------------------------------------------------------
    def recorded_topology(self):
        row = self.store.query_one(self.db, "SELECT multiconnect, shards, masters, coreapps FROM topology WHERE id = 1")
        if not row:
            return None
        return {"multiconnect": bool(row[0]), "shards": row[1], "masters": row[2], "coreapps": row[3]}

    def running_topology(self):
        nodes = self.nodes()
        return {"multiconnect": self.config.multiconnect,
                "masters": sum(1 for n in nodes if n["role"] == "master"),
                "coreapps": sum(1 for n in nodes if n["role"] == "coreapp")}

    def record_topology(self, shards, topology=None):
        topology = topology or self.running_topology()
        self.store.upsert(self.db, "topology", ["id"], {
            "id": 1, "multiconnect": topology["multiconnect"], "shards": shards, "masters": topology["masters"],
            "coreapps": topology["coreapps"], "updated_at": now_ms()})

    @staticmethod
    def same_shape(recorded, running):
        if recorded["multiconnect"] != running["multiconnect"]:
            return False
        return not recorded["multiconnect"] or (
            (recorded["masters"], recorded["coreapps"]) == (running["masters"], running["coreapps"]))

    @staticmethod
    def describe(topology):
        if not topology["multiconnect"]:
            return "a single instance (1 coreapp)"
        return "%d master(s) and %d coreapp(s)" % (topology["masters"], topology["coreapps"])

    def topology_error(self):
        """Why this database must not be served by the running nodes, or None."""
        recorded = self.recorded_topology()
        if recorded is None:
            return None
        running = self.running_topology()
        if not self.same_shape(recorded, running):
            return ("Shard topology mismatch: the database was set up by %s with %d shard(s), but this setup "
                    "runs %s. A migration needs exactly the same number of Masters and Coreapps."
                    % (self.describe(recorded), recorded["shards"], self.describe(running)))
        return None

    def shards(self):
        recorded = self.recorded_topology()
        return recorded["shards"] if recorded else 1

    # shard map -------------------------------------------------------------------------------
    def shard_owner(self, shard):
        row = self.store.query_one(self.db, "SELECT node_id FROM shard_map WHERE shard = %s", (shard,))
        return row[0] if row else None

    def rebalance(self):
        """Give every shard a coreapp that is up; spares take over the shards of nodes that went down."""
        shards = self.shards()
        coreapps = [n for n in self.nodes() if n["role"] == "coreapp" and self.is_up(n)]
        up_ids = [n["node_id"] for n in coreapps]
        owners = dict(self.store.query(self.db, "SELECT shard, node_id FROM shard_map"))
        self.store.execute(self.db, "DELETE FROM shard_map WHERE shard >= %s", (shards,))
        taken = {owner for shard, owner in owners.items() if shard < shards and owner in up_ids}
        for shard in range(shards):
            if owners.get(shard) in up_ids:
                continue
            spare = next((node for node in up_ids if node not in taken), None)
            if spare is None:
                continue
            taken.add(spare)
            self.store.upsert(self.db, "shard_map", ["shard"], {"shard": shard, "node_id": spare})

    @staticmethod
    def shard_of(recipient, shards):
        """crc32(to) % shards, as the web app routes messages."""
        return zlib.crc32(recipient.encode()) % shards
