#!/usr/bin/python3
"""A MongoDB wire-protocol STAND-IN for api-broker's tests. It is not MongoDB.

No MongoDB server can be installed on the machines that build api-broker (Debian ships none),
so the tests of the mongodb event store run against this small server instead, unless
API_BROKER_MONGODB_URL names a real one. It speaks the wire protocol the official C driver
uses (OP_MSG, plus OP_QUERY/OP_REPLY for the first handshake) on 127.0.0.1 and answers the
subset of commands the store and its tests send:

  hello/isMaster, ping, buildInfo, endSessions, listCollections, create, drop, dropDatabase,
  createIndexes, insert, find, getMore (tailable awaitData cursors on capped collections,
  CappedPositionLost when a cursor fell behind), killCursors, findAndModify (update documents
  and aggregation-pipeline updates with $$NOW), update, delete, aggregate, count.
  saslStart/authenticate always fail with AuthenticationFailed: the stand-in has no users.

Storage, query filters, update operators and unique (partial) indexes are Debian's mongomock;
capped collections and tailable cursors, which mongomock lacks, are implemented here. All
data is in memory and lost when the process ends. Figures measured against it say nothing
about MongoDB's own speed.

Usage: /usr/bin/python3 standin.py [--port N] [--port-file FILE]
  --port 0 (the default) takes a free port; the port is printed on stderr and, with
  --port-file, written to FILE once the server accepts connections.
"""

import argparse
import datetime
import itertools
import os
import socket
import socketserver
import struct
import sys
import threading
import time

import bson
import mongomock
import mongomock.filtering
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions
from bson.int64 import Int64
from bson.son import SON

OP_REPLY = 1
OP_QUERY = 2004
OP_MSG = 2013
CODEC = CodecOptions(document_class=SON, uuid_representation=UuidRepresentation.STANDARD)
MAX_BSON = 16 * 1024 * 1024
MAX_MESSAGE = 48_000_000
MAX_WIRE_VERSION = 13  # MongoDB 5.0
DEFAULT_BATCH = 101


class CommandError(Exception):
    def __init__(self, code, code_name, message):
        super().__init__(message)
        self.code = code
        self.code_name = code_name
        self.message = message


def now_ms():
    """The current UTC time at BSON's millisecond precision."""
    now = datetime.datetime.utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# --- aggregation expressions (enough for pipeline updates) ---

MISSING = object()


def type_rank(value):
    if value is MISSING or value is None:
        return 1
    if isinstance(value, bool):
        return 8
    if isinstance(value, (int, float)):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, dict):
        return 4
    if isinstance(value, list):
        return 5
    if isinstance(value, (bytes, bson.Binary)) or type(value).__name__ == "UUID":
        return 6
    if isinstance(value, bson.ObjectId):
        return 7
    if isinstance(value, datetime.datetime):
        return 9
    return 10


def compare(a, b):
    ra, rb = type_rank(a), type_rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 1:
        return 0
    if ra == 6:
        a, b = bytes(getattr(a, "bytes", a)), bytes(getattr(b, "bytes", b))
    if a == b:
        return 0
    return -1 if a < b else 1


def truthy(value):
    return not (value is MISSING or value is None or value is False or value == 0)


def bson_type_name(value):
    if value is MISSING:
        return "missing"
    if value is None:
        return "null"
    names = {bool: "bool", int: "long", float: "double", str: "string", list: "array",
             datetime.datetime: "date"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if isinstance(value, dict):
        return "object"
    return "binData"


def field(doc, path):
    value = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def evaluate(expr, doc, now):
    if isinstance(expr, str):
        if expr == "$$NOW":
            return now
        if expr.startswith("$$"):
            raise CommandError(17276, "Location17276", "unknown variable " + expr)
        if expr.startswith("$"):
            return field(doc, expr[1:])
        return expr
    if isinstance(expr, list):
        return [evaluate(item, doc, now) for item in expr]
    if not isinstance(expr, dict):
        return expr
    if len(expr) == 1 and next(iter(expr)).startswith("$"):
        op, args = next(iter(expr.items()))
        return evaluate_operator(op, args, doc, now)
    return {key: evaluate(value, doc, now) for key, value in expr.items()}


def evaluate_operator(op, args, doc, now):
    if op == "$literal":
        return args
    if op == "$cond":
        if isinstance(args, dict):
            args = [args["if"], args["then"], args["else"]]
        condition, then, otherwise = args
        return evaluate(then if truthy(evaluate(condition, doc, now)) else otherwise, doc, now)
    if not isinstance(args, list):
        args = [args]
    values = [evaluate(arg, doc, now) for arg in args]
    comparisons = {"$eq": lambda c: c == 0, "$ne": lambda c: c != 0, "$lt": lambda c: c < 0,
                   "$lte": lambda c: c <= 0, "$gt": lambda c: c > 0, "$gte": lambda c: c >= 0}
    if op in comparisons:
        return comparisons[op](compare(values[0], values[1]))
    if op == "$or":
        return any(truthy(v) for v in values)
    if op == "$and":
        return all(truthy(v) for v in values)
    if op == "$not":
        return not truthy(values[0])
    if op == "$ifNull":
        for value in values:
            if value is not MISSING and value is not None:
                return value
        return None
    if op == "$type":
        return bson_type_name(values[0])
    if op == "$add":
        if any(v is MISSING or v is None for v in values):
            return None
        dates = [v for v in values if isinstance(v, datetime.datetime)]
        total = sum(v for v in values if not isinstance(v, datetime.datetime))
        if len(dates) > 1:
            raise CommandError(16612, "Location16612", "only one date allowed in an $add")
        if dates:
            return dates[0] + datetime.timedelta(milliseconds=int(total))
        return total
    raise CommandError(168, "InvalidPipelineOperator",
                       "the stand-in does not implement the expression " + op)


def apply_pipeline(doc, stages, now):
    doc = SON(doc)
    for stage in stages:
        (name, spec), = stage.items()
        if name in ("$set", "$addFields"):
            values = {key: evaluate(value, doc, now) for key, value in spec.items()}
            for key, value in values.items():
                if value is MISSING:
                    doc.pop(key, None)
                else:
                    doc[key] = value
        elif name == "$unset":
            for key in [spec] if isinstance(spec, str) else spec:
                doc.pop(key, None)
        else:
            raise CommandError(72, "InvalidOptions",
                               "the stand-in does not implement the update stage " + name)
    return doc


# --- the data ---

_scan_uniques = mongomock.collection.Collection._ensure_uniques


def _ensure_uniques(collection, new_data):
    """mongomock compares a new document with every stored one for every unique index; like
    a real index, compare only when the document is in the (partial) index at all."""
    for index in collection._store.indexes.values():
        if not index.get("unique") or list(index.get("key")) == [("_id", 1)]:
            continue
        partial = index.get("partialFilterExpression")
        if partial is None or mongomock.filtering.filter_applies(partial, new_data):
            return _scan_uniques(collection, new_data)
    return None


mongomock.collection.Collection._ensure_uniques = _ensure_uniques

class Capped:
    """A capped collection: insertion order, bounded by bytes and count, tailable."""

    def __init__(self, size, maximum):
        self.size = size
        self.max = maximum
        self.docs = []  # (sequence number, document)
        self.bytes = 0
        self.next_seq = 1

    def insert(self, doc):
        if "_id" not in doc:
            doc = SON([("_id", bson.ObjectId())] + list(doc.items()))
        self.docs.append((self.next_seq, doc))
        self.next_seq += 1
        self.bytes += len(bson.encode(doc, codec_options=CODEC))
        while self.docs and (self.bytes > self.size or (self.max and len(self.docs) > self.max)):
            _, old = self.docs.pop(0)
            self.bytes -= len(bson.encode(old, codec_options=CODEC))

    def oldest_seq(self):
        return self.docs[0][0] if self.docs else self.next_seq


class Server:
    def __init__(self):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.client = mongomock.MongoClient()
        self.capped = {}  # (db, name) -> Capped
        self.cursors = {}  # id -> dict
        self.cursor_ids = itertools.count(1000)
        self.connection_ids = itertools.count(1)

    # -- helpers --
    def collection(self, db, name):
        return self.client[db][name]

    def exists(self, db, name):
        return (db, name) in self.capped or name in self.client[db].list_collection_names()

    def unique_conflict(self, db, name, doc):
        """The (index name, key pattern, key value) that `doc` would duplicate, or None."""
        collection = self.collection(db, name)
        if "_id" in doc and doc["_id"] in collection._store:  # the _id index
            return "_id_", SON([("_id", 1)]), SON([("_id", doc["_id"])])
        for index_name, index in collection.index_information().items():
            if not index.get("unique") or index_name == "_id_":
                continue
            partial = index.get("partialFilterExpression")
            if partial and not mongomock.filtering.filter_applies(partial, doc):
                continue
            keys = [key for key, _ in index["key"]]
            query = {key: field(doc, key) if field(doc, key) is not MISSING else None
                     for key in keys}
            if partial:
                query = {"$and": [query, partial]}
            if collection.find_one(query) is not None:
                pattern = SON([(key, 1) for key in keys])
                value = SON([(key, field(doc, key)) for key in keys])
                return index_name, pattern, value
        return None

    def duplicate_error(self, db, name, conflict, index=None):
        index_name, pattern, value = conflict
        shown = ", ".join("%s: %r" % item for item in value.items())
        error = SON([("code", 11000),
                     ("errmsg", "E11000 duplicate key error collection: %s.%s index: %s "
                                "dup key: { %s }" % (db, name, index_name, shown)),
                     ("keyPattern", pattern), ("keyValue", value)])
        if index is not None:
            error["index"] = index
        return error

    def new_cursor(self, cursor):
        cursor_id = next(self.cursor_ids)
        self.cursors[cursor_id] = cursor
        return cursor_id

    # -- commands --
    def run(self, command, connection_id):
        name = next(iter(command))
        handler = getattr(self, "cmd_" + name.lower(), None)
        if handler is None:
            raise CommandError(59, "CommandNotFound",
                               "no such command: '%s' (not implemented by the stand-in)" % name)
        db = command.get("$db", "admin")
        if name.lower() in ("getmore", "hello", "ismaster"):
            return handler(command, db, connection_id)
        with self.lock:
            return handler(command, db, connection_id)

    def cmd_hello(self, command, db, connection_id):
        reply = SON([("helloOk", True), ("ismaster", True), ("isWritablePrimary", True),
                     ("maxBsonObjectSize", MAX_BSON), ("maxMessageSizeBytes", MAX_MESSAGE),
                     ("maxWriteBatchSize", 100000), ("localTime", now_ms()),
                     ("connectionId", connection_id), ("minWireVersion", 0),
                     ("maxWireVersion", MAX_WIRE_VERSION), ("readOnly", False), ("ok", 1.0)])
        return reply

    cmd_ismaster = cmd_hello

    def cmd_ping(self, command, db, connection_id):
        return {"ok": 1.0}

    def cmd_buildinfo(self, command, db, connection_id):
        return SON([("version", "5.0.0"), ("gitVersion", "api-broker-mongo-standin"),
                    ("versionArray", [5, 0, 0, 0]), ("standin", True),
                    ("maxBsonObjectSize", MAX_BSON), ("ok", 1.0)])

    def cmd_endsessions(self, command, db, connection_id):
        return {"ok": 1.0}

    def cmd_saslstart(self, command, db, connection_id):
        raise CommandError(18, "AuthenticationFailed", "Authentication failed.")

    cmd_saslcontinue = cmd_saslstart
    cmd_authenticate = cmd_saslstart

    def cmd_listcollections(self, command, db, connection_id):
        infos = []
        for name in self.client[db].list_collection_names():
            infos.append(SON([("name", name), ("type", "collection"), ("options", SON()),
                              ("info", SON([("readOnly", False)]))]))
        for (capped_db, name), capped in self.capped.items():
            if capped_db == db:
                options = SON([("capped", True), ("size", capped.size)])
                if capped.max:
                    options["max"] = capped.max
                infos.append(SON([("name", name), ("type", "collection"), ("options", options),
                                  ("info", SON([("readOnly", False)]))]))
        wanted = command.get("filter") or {}
        infos = [info for info in infos if mongomock.filtering.filter_applies(wanted, info)]
        return SON([("cursor", SON([("id", Int64(0)), ("ns", db + ".$cmd.listCollections"),
                                    ("firstBatch", infos)])), ("ok", 1.0)])

    def cmd_create(self, command, db, connection_id):
        name = command["create"]
        if self.exists(db, name):
            raise CommandError(48, "NamespaceExists", "Collection %s.%s already exists." % (db, name))
        if command.get("capped"):
            self.capped[(db, name)] = Capped(int(command.get("size", 4096)),
                                             int(command.get("max", 0)))
        else:
            self.client[db].create_collection(name)
        return {"ok": 1.0}

    def cmd_drop(self, command, db, connection_id):
        name = command["drop"]
        if self.capped.pop((db, name), None) is None:
            if name not in self.client[db].list_collection_names():
                raise CommandError(26, "NamespaceNotFound", "ns not found")
            self.client[db].drop_collection(name)
        self.changed.notify_all()
        return {"ok": 1.0}

    def cmd_dropdatabase(self, command, db, connection_id):
        self.client.drop_database(db)
        for key in [key for key in self.capped if key[0] == db]:
            del self.capped[key]
        self.changed.notify_all()
        return {"ok": 1.0}

    def cmd_createindexes(self, command, db, connection_id):
        name = command["createIndexes"]
        if (db, name) in self.capped:
            raise CommandError(72, "InvalidOptions", "the stand-in cannot index capped collections")
        collection = self.collection(db, name)
        before = len(collection.index_information())
        for spec in command["indexes"]:
            keys = list(spec["key"].items())
            existing = collection.index_information().get(spec["name"])
            wanted = {"unique": bool(spec.get("unique", False)),
                      "partialFilterExpression": spec.get("partialFilterExpression")}
            if existing is not None:
                have = {"unique": bool(existing.get("unique", False)),
                        "partialFilterExpression": existing.get("partialFilterExpression")}
                if [tuple(k) for k in existing["key"]] != [tuple(k) for k in keys]:
                    raise CommandError(86, "IndexKeySpecsConflict",
                                       "An existing index has the same name as the requested "
                                       "index but different keys: " + spec["name"])
                if have != wanted:
                    raise CommandError(85, "IndexOptionsConflict",
                                       "An existing index has the same name as the requested "
                                       "index but different options: " + spec["name"])
                continue
            kwargs = {"name": spec["name"], "unique": wanted["unique"]}
            if wanted["partialFilterExpression"] is not None:
                kwargs["partialFilterExpression"] = wanted["partialFilterExpression"]
            try:
                collection.create_index(keys, **kwargs)
            except mongomock.DuplicateKeyError:
                raise CommandError(11000, "DuplicateKey", "E11000 duplicate key error building "
                                   "index " + spec["name"])
        return SON([("numIndexesBefore", before),
                    ("numIndexesAfter", len(collection.index_information())), ("ok", 1.0)])

    def cmd_insert(self, command, db, connection_id):
        name = command["insert"]
        docs = command.get("documents", [])
        ordered = command.get("ordered", True)
        errors = []
        inserted = 0
        capped = self.capped.get((db, name))
        for index, doc in enumerate(docs):
            if capped is not None:
                capped.insert(doc)
                inserted += 1
                continue
            conflict = self.unique_conflict(db, name, doc)
            if conflict is not None:
                errors.append(self.duplicate_error(db, name, conflict, index))
                if ordered:
                    break
                continue
            self.collection(db, name).insert_one(doc)
            inserted += 1
        if capped is not None:
            self.changed.notify_all()
        reply = SON([("n", inserted)])
        if errors:
            reply["writeErrors"] = errors
        reply["ok"] = 1.0
        return reply

    def cmd_find(self, command, db, connection_id):
        name = command["find"]
        query = command.get("filter") or {}
        batch = int(command.get("batchSize", DEFAULT_BATCH)) or DEFAULT_BATCH
        capped = self.capped.get((db, name))
        if command.get("tailable"):
            if capped is None:
                raise CommandError(2, "BadValue", "error processing query: tailable cursor "
                                   "requested on non capped collection")
            if not capped.docs:
                return self.cursor_reply(db, name, Int64(0), [], "firstBatch")
            cursor = {"kind": "tail", "key": (db, name), "pos": 0, "filter": query,
                      "await": bool(command.get("awaitData"))}
            docs = self.tail_batch(cursor, capped, batch)
            return self.cursor_reply(db, name, self.new_cursor(cursor), docs, "firstBatch")
        if capped is not None:
            found = [doc for _, doc in capped.docs
                     if mongomock.filtering.filter_applies(query, doc)]
            if command.get("sort"):
                found.sort(key=lambda d: d.get("$natural", 0))
        else:
            found = list(self.collection(db, name).find(
                query, projection=command.get("projection"), skip=int(command.get("skip", 0)),
                limit=abs(int(command.get("limit", 0))),
                sort=list(command["sort"].items()) if command.get("sort") else None))
        if command.get("singleBatch") or int(command.get("limit", 0)) < 0:
            return self.cursor_reply(db, name, Int64(0), found, "firstBatch")
        first, rest = found[:batch], found[batch:]
        cursor_id = Int64(0)
        if rest:
            cursor_id = self.new_cursor({"kind": "list", "docs": rest})
        return self.cursor_reply(db, name, cursor_id, first, "firstBatch")

    def tail_batch(self, cursor, capped, batch):
        if cursor["pos"] and cursor["pos"] < capped.oldest_seq() - 1:
            raise CommandError(136, "CappedPositionLost",
                               "CollectionScan died due to position in capped collection being "
                               "deleted")
        docs = []
        for seq, doc in capped.docs:
            if seq <= cursor["pos"]:
                continue
            cursor["pos"] = seq
            if mongomock.filtering.filter_applies(cursor["filter"], doc):
                docs.append(doc)
                if len(docs) >= batch:
                    break
        return docs

    def cursor_reply(self, db, name, cursor_id, docs, which):
        return SON([("cursor", SON([("id", Int64(cursor_id)), ("ns", db + "." + name),
                                    (which, docs)])), ("ok", 1.0)])

    def cmd_getmore(self, command, db, connection_id):
        cursor_id = int(command["getMore"])
        name = command["collection"]
        batch = int(command.get("batchSize", 0)) or 1 << 30
        deadline = time.monotonic() + int(command.get("maxTimeMS", 1000)) / 1000.0
        with self.lock:
            cursor = self.cursors.get(cursor_id)
            if cursor is None:
                raise CommandError(43, "CursorNotFound", "cursor id %d not found" % cursor_id)
            if cursor["kind"] == "list":
                docs, cursor["docs"] = cursor["docs"][:batch], cursor["docs"][batch:]
                if not cursor["docs"]:
                    del self.cursors[cursor_id]
                    cursor_id = 0
                return self.cursor_reply(db, name, cursor_id, docs, "nextBatch")
            while True:
                capped = self.capped.get(cursor["key"])
                if capped is None:
                    del self.cursors[cursor_id]
                    raise CommandError(175, "QueryPlanKilled", "collection dropped")
                try:
                    docs = self.tail_batch(cursor, capped, batch)
                except CommandError:
                    del self.cursors[cursor_id]
                    raise
                remaining = deadline - time.monotonic()
                if docs or not cursor["await"] or remaining <= 0:
                    return self.cursor_reply(db, name, cursor_id, docs, "nextBatch")
                self.changed.wait(remaining)

    def cmd_killcursors(self, command, db, connection_id):
        killed = []
        for cursor_id in command.get("cursors", []):
            if self.cursors.pop(int(cursor_id), None) is not None:
                killed.append(cursor_id)
        return SON([("cursorsKilled", killed), ("cursorsNotFound", []), ("cursorsAlive", []),
                    ("cursorsUnknown", []), ("ok", 1.0)])

    def cmd_findandmodify(self, command, db, connection_id):
        name = command.get("findAndModify", command.get("findandmodify"))
        collection = self.collection(db, name)
        query = command.get("query") or {}
        sort = list(command["sort"].items()) if command.get("sort") else None
        found = collection.find_one(query, sort=sort)
        if command.get("remove"):
            if found is not None:
                collection.delete_one({"_id": found["_id"]})
            return SON([("lastErrorObject", SON([("n", 1 if found else 0)])), ("value", found),
                        ("ok", 1.0)])
        update = command["update"]
        upsert = command.get("upsert", False)
        if found is None and not upsert:
            return SON([("lastErrorObject", SON([("n", 0), ("updatedExisting", False)])),
                        ("value", None), ("ok", 1.0)])
        if isinstance(update, list):
            base = found
            if base is None:
                base = SON((key, value) for key, value in query.items()
                           if not key.startswith("$") and not isinstance(value, dict))
            result = apply_pipeline(base, update, now_ms())
            if found is not None:
                result["_id"] = found["_id"]
                collection.replace_one({"_id": found["_id"]}, result)
            else:
                if "_id" not in result:
                    result["_id"] = bson.ObjectId()
                conflict = self.unique_conflict(db, name, result)
                if conflict is not None:
                    raise CommandError(11000, "DuplicateKey",
                                       self.duplicate_error(db, name, conflict)["errmsg"])
                collection.insert_one(result)
        elif found is not None:
            collection.update_one({"_id": found["_id"]}, update)
            result = collection.find_one({"_id": found["_id"]})
        else:
            seed = SON((key, value) for key, value in query.items()
                       if not key.startswith("$") and not isinstance(value, dict))
            probe = mongomock.MongoClient()["probe"]["probe"]
            probe.insert_one(seed if "_id" in seed else SON([("_id", bson.ObjectId())] +
                                                             list(seed.items())))
            probe.update_one({}, update)
            result = probe.find_one({})
            conflict = self.unique_conflict(db, name, result)
            if conflict is not None:
                raise CommandError(11000, "DuplicateKey",
                                   self.duplicate_error(db, name, conflict)["errmsg"])
            collection.insert_one(result)
        upserted = found is None
        value = result if command.get("new") else found
        if value is not None and command.get("fields"):
            value = SON((key, v) for key, v in value.items()
                        if key == "_id" or command["fields"].get(key))
        last_error = SON([("n", 1), ("updatedExisting", not upserted)])
        if upserted:
            last_error["upserted"] = result["_id"]
        return SON([("lastErrorObject", last_error), ("value", value), ("ok", 1.0)])

    def cmd_update(self, command, db, connection_id):
        name = command["update"]
        collection = self.collection(db, name)
        matched = modified = 0
        upserted = []
        errors = []
        for index, spec in enumerate(command.get("updates", [])):
            if isinstance(spec["u"], list):
                errors.append(SON([("index", index), ("code", 72),
                                   ("errmsg", "the stand-in supports pipelines only in "
                                              "findAndModify")]))
                break
            try:
                if spec.get("multi"):
                    result = collection.update_many(spec["q"], spec["u"],
                                                    upsert=spec.get("upsert", False))
                else:
                    result = collection.update_one(spec["q"], spec["u"],
                                                   upsert=spec.get("upsert", False))
            except mongomock.DuplicateKeyError as error:
                errors.append(SON([("index", index), ("code", 11000),
                                   ("errmsg", "E11000 duplicate key error: %s" % error)]))
                break
            matched += result.matched_count
            modified += result.modified_count
            if result.upserted_id is not None:
                upserted.append(SON([("index", index), ("_id", result.upserted_id)]))
        reply = SON([("n", matched + len(upserted)), ("nModified", modified)])
        if upserted:
            reply["upserted"] = upserted
        if errors:
            reply["writeErrors"] = errors
        reply["ok"] = 1.0
        return reply

    def cmd_delete(self, command, db, connection_id):
        name = command["delete"]
        collection = self.collection(db, name)
        removed = 0
        for spec in command.get("deletes", []):
            if int(spec.get("limit", 0)) == 1:
                removed += collection.delete_one(spec["q"]).deleted_count
            else:
                removed += collection.delete_many(spec["q"]).deleted_count
        return SON([("n", removed), ("ok", 1.0)])

    def cmd_count(self, command, db, connection_id):
        name = command["count"]
        if (db, name) in self.capped:
            n = len(self.capped[(db, name)].docs)
        else:
            n = self.collection(db, name).count_documents(command.get("query") or {})
        return SON([("n", n), ("ok", 1.0)])

    def cmd_aggregate(self, command, db, connection_id):
        name = command["aggregate"]
        docs = list(self.collection(db, name).aggregate(command.get("pipeline", [])))
        return self.cursor_reply(db, name, Int64(0), docs, "firstBatch")


# --- the wire protocol ---

def read_cstring(data, at):
    end = data.index(b"\x00", at)
    return data[at:end].decode(), end + 1


def parse_op_msg(body):
    flags, = struct.unpack_from("<I", body, 0)
    end = len(body) - (4 if flags & 1 else 0)
    at = 4
    command = None
    sequences = {}
    while at < end:
        kind = body[at]
        at += 1
        if kind == 0:
            size, = struct.unpack_from("<i", body, at)
            command = bson.decode(body[at:at + size], codec_options=CODEC)
            at += size
        elif kind == 1:
            size, = struct.unpack_from("<i", body, at)
            section_end = at + size
            identifier, at = read_cstring(body, at + 4)
            docs = []
            while at < section_end:
                doc_size, = struct.unpack_from("<i", body, at)
                docs.append(bson.decode(body[at:at + doc_size], codec_options=CODEC))
                at += doc_size
            sequences[identifier] = docs
        else:
            raise ValueError("unknown OP_MSG section kind %d" % kind)
    for identifier, docs in sequences.items():
        command[identifier] = docs
    return flags, command


class Handler(socketserver.BaseRequestHandler):
    def recv_exact(self, size):
        chunks = []
        while size:
            chunk = self.request.recv(size)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def handle(self):
        server = self.server.state
        connection_id = next(server.connection_ids)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        response_ids = itertools.count(1)
        try:
            while True:
                length, request_id, _, opcode = struct.unpack("<iiii", self.recv_exact(16))
                body = self.recv_exact(length - 16)
                if opcode == OP_MSG:
                    flags, command = parse_op_msg(body)
                    reply = self.answer(server, command, connection_id)
                    if flags & 2:  # moreToCome: no reply wanted
                        continue
                    payload = struct.pack("<I", 0) + b"\x00" + bson.encode(reply, codec_options=CODEC)
                    header = struct.pack("<iiii", 16 + len(payload), next(response_ids), request_id,
                                         OP_MSG)
                elif opcode == OP_QUERY:
                    _, at = struct.unpack_from("<i", body, 0)[0], 4
                    collection, at = read_cstring(body, at)
                    at += 8  # numberToSkip, numberToReturn
                    size, = struct.unpack_from("<i", body, at)
                    query = bson.decode(body[at:at + size], codec_options=CODEC)
                    if "$query" in query:
                        query = query["$query"]
                    query["$db"] = collection.split(".", 1)[0]
                    reply = self.answer(server, query, connection_id)
                    document = bson.encode(reply, codec_options=CODEC)
                    payload = struct.pack("<iqii", 0, 0, 0, 1) + document
                    header = struct.pack("<iiii", 16 + len(payload), next(response_ids), request_id,
                                         OP_REPLY)
                else:
                    return
                self.request.sendall(header + payload)
        except (EOFError, ConnectionError, OSError):
            return

    def answer(self, server, command, connection_id):
        try:
            return server.run(command, connection_id)
        except CommandError as error:
            return SON([("ok", 0.0), ("errmsg", error.message), ("code", error.code),
                        ("codeName", error.code_name)])
        except Exception as error:  # a bug or a gap of the stand-in: say so, keep serving
            return SON([("ok", 0.0), ("errmsg", "stand-in error: %r" % (error,)), ("code", 1),
                        ("codeName", "InternalError")])


class TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description="MongoDB wire-protocol stand-in for tests")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    args = parser.parse_args()
    server = TcpServer(("127.0.0.1", args.port), Handler)
    server.state = Server()
    port = server.server_address[1]
    print("mongo stand-in (not MongoDB) listening on 127.0.0.1:%d" % port, file=sys.stderr,
          flush=True)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as out:
            out.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
