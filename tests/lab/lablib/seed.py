# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fills the old setup like a client that has been in use: through its API and, for bulk, its database."""

import base64
import io
import json
import os
import random
import time

from wa_emulator.cluster import Cluster

from . import dbserver
from .api import Client

API_MESSAGES = 10
CALLBACK_EVERY = 4
TEXTS = ["Hallo, wie geht's? ", "Grüße aus Köln ", "こんにちは ", "Terima kasih! ", "안녕하세요 ", "👍 ok ", "Réservé ✔ "]


class _Payloads:
    """Random message bodies cut from one pool, so generating a gigabyte costs little CPU."""

    def __init__(self, mean_size, rng):
        self.rng = rng
        self.mean = max(16, mean_size)
        self.pool = base64.b64encode(os.urandom(3 * 1024 * 1024)).decode()

    def next(self):
        size = self.rng.randint(self.mean // 2, self.mean * 3 // 2)
        start = self.rng.randrange(0, len(self.pool) - size)
        return self.rng.choice(TEXTS) + self.pool[start:start + size]


def _pg_escape(value):
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _insert(conn, engine, table, columns, rows):
    if not rows:
        return
    if engine == "mysql":
        sql = "INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(columns), ", ".join(["%s"] * len(columns)))
        with conn.cursor() as cur:
            cur.executemany(sql, rows)
        return
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join(_pg_escape(v) for v in row) + "\n")
    buf.seek(0)
    with conn.cursor() as cur:
        cur.copy_expert("COPY %s (%s) FROM STDIN" % (table, ", ".join(columns)), buf)


def seed(state, messages, size, log=print):
    old = state["setups"]["old"]
    rng = random.Random(messages * 7919 + size)
    api = Client(old["url"], old["ca_path"])
    api.login("admin", state["admin_password"])

    # API user and its token: option 3 must carry them, option 2 must not.
    if api.request("GET", "/v1/users/" + state["api_user"]).status_code == 404:
        api.call("POST", "/v1/users", {"username": state["api_user"], "password": state["api_user_password"]},
                 expect=201)
    user_api = Client(old["url"], old["ca_path"])
    state["api_user_token"] = user_api.login(state["api_user"], state["api_user_password"])

    api.call("PATCH", "/v1/settings/application", {
        "webhooks": {"url": state["webhook_url"], "max_concurrent_requests": 12},
        "callback_persist": True, "heartbeat_interval": 5,
        "media": {"auto_download": ["image", "document", "audio"]}})
    api.call("POST", "/v1/settings/account/two-step", {"pin": state["pin"]})

    contact_count = max(10, min(2000, messages // 10))
    numbers = ["49151%08d" % n for n in range(contact_count)]
    for start in range(0, len(numbers), 200):
        api.call("POST", "/v1/contacts", {"blocking": "wait", "contacts": ["+" + n for n in numbers[start:start + 200]]})

    sent_by_api = min(API_MESSAGES, messages)
    for number in numbers[:sent_by_api]:
        user_api.call("POST", "/v1/messages", {"to": number, "type": "text", "text": {"body": "Welcome! 👋"}},
                      expect=201)

    bulk = messages - sent_by_api
    started = time.time()
    _bulk_messages(state, old, bulk, numbers, _Payloads(size, rng), rng)
    log("seeded %d contacts, %d messages (%d through the API) in %.1fs"
        % (contact_count, messages, sent_by_api, time.time() - started))
    state["seeded"] = {"messages": messages, "size": size, "contacts": contact_count}


def _bulk_messages(state, setup, count, numbers, payloads, rng):
    shards = max(1, setup["shards"])
    prefix = setup["db_prefix"]
    engine = setup["engine"]

    def connect(dbname):
        conn = dbserver.connect(engine, setup["db_port"], setup["db_password"], dbname, setup.get("tls_dir"))
        if engine == "mysql":
            # The bulk history predates any migration: no run reads its binary log, and writing it doubles the
            # seeding's writes (at 16 GB, a 32 GB log).
            with conn.cursor() as cur:
                cur.execute("SET SESSION sql_log_bin = 0")
        return conn

    msg_conns = {s: connect("%swamessages_%d" % (prefix, s)) for s in range(shards)}
    core = connect(prefix + "wacore")
    columns = ("id", "wa_id", "from_me", "type", "body", "status", "timestamp")
    cb_columns = ("message_id", "wa_id", "kind", "payload", "created_at", "delivered_at", "attempts")
    now = int(time.time())
    batch = 2000
    try:
        for start in range(0, count, batch):
            per_shard = {s: [] for s in range(shards)}
            callbacks = []
            for _row in range(min(batch, count - start)):
                wa_id = rng.choice(numbers)
                message_id = "gBEG" + base64.urlsafe_b64encode(rng.randbytes(18)).decode()
                from_me = rng.random() < 0.5
                stamp = now - rng.randrange(30 * 86400)
                body = json.dumps({"body": payloads.next()}, ensure_ascii=False)
                status = rng.choice(("sent", "delivered", "read")) if from_me else "received"
                shard = Cluster.shard_of(wa_id, shards) if setup["shards"] else 0
                per_shard[shard].append((message_id, wa_id, from_me, "text", body, status, stamp))
                if rng.randrange(CALLBACK_EVERY) == 0:
                    event = ({"statuses": [{"id": message_id, "recipient_id": wa_id, "status": status,
                                            "timestamp": str(stamp)}]} if from_me else
                             {"messages": [{"id": message_id, "from": wa_id, "type": "text",
                                            "timestamp": str(stamp)}]})
                    delivered = None if rng.random() < 0.1 else stamp * 1000 + 250
                    callbacks.append((message_id, wa_id, "status" if from_me else "message",
                                      json.dumps(event), stamp * 1000, delivered, 1))
            for shard, rows in per_shard.items():
                _insert(msg_conns[shard], engine, "messages", columns, rows)
            _insert(core, engine, "callbacks", cb_columns, callbacks)
    finally:
        for conn in list(msg_conns.values()) + [core]:
            conn.close()
