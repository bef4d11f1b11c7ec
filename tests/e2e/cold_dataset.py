#!/usr/bin/python3
"""A program with a large cold dataset and a small hot part (uzswap's demo and e2e test).

Builds DATASET_MB MiB of records in anonymous private mmap'd memory plus a few million
small Python objects (which live in Python's own mmap'd arenas), then works on a small hot
part for HOT_SECONDS, then checksums everything. Prints only results on stdout, identical
with and without uzswap; its own footprint (VmHWM/VmRSS) goes to stderr.
"""
import hashlib
import mmap
import os
import sys
import time

MiB = 1 << 20
size = int(os.environ.get("DATASET_MB", "1024")) * MiB
hot_seconds = float(os.environ.get("HOT_SECONDS", "3"))
objects = int(os.environ.get("OBJECTS", "2000000"))


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    return 0


# 16 distinct 1 MiB blocks of text records; each MiB of the dataset is one of them with
# its own number stamped in, so every page differs but compresses like real records.
templates = []
for t in range(16):
    rows = [b"%07d,customer-%05d,item-%04d,qty=%3d,price=%8.2f,status=%s,country=%s,channel=%s\n"
            % (r, (r * 7 + t) % 50000, (r * 13 + t) % 9000, r % 97, (r * 31 % 100000) / 100.0,
               (b"shipped", b"pending", b"returned")[r % 3],
               (b"Germany", b"France", b"Italy", b"Spain")[(r // 5) % 4],
               (b"online-shop", b"retail-store")[(r // 3) % 2]) for r in range(11000)]
    block = b"".join(rows)[:MiB]
    templates.append(block + b"\n" * (MiB - len(block)))

data = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for i in range(size // MiB):
    block = bytearray(templates[i % 16])
    for off in range(0, MiB, 4096):
        block[off:off + 16] = b"%015d\n" % (i * 256 + off // 4096)
    data[i * MiB:(i + 1) * MiB] = bytes(block)

cold_objects = [(i, "k%d" % i) for i in range(objects)]

print("phase: hot (dataset built)", file=sys.stderr, flush=True)

# Hot phase: a small part (the first 16 MiB and 1% of the objects) is used again and again.
hot_bytes = min(16 * MiB, size)
hot_sum = 0
rounds = 0
deadline = time.monotonic() + hot_seconds
while time.monotonic() < deadline or rounds == 0:
    view = memoryview(data)[:hot_bytes]
    hot_sum = (hot_sum + hashlib.blake2b(view, digest_size=8).digest()[0]) & 0xFFFFFFFF
    view.release()
    for k in range(0, objects // 100, 7):
        hot_sum = (hot_sum + cold_objects[k][0]) & 0xFFFFFFFF
    rounds += 1
    time.sleep(0.05)

print("phase: end of hot work, VmRSS %d MiB" % status("VmRSS"), file=sys.stderr, flush=True)

digest = hashlib.sha256()
for i in range(0, size, 64 * MiB):
    view = memoryview(data)[i:i + 64 * MiB]
    digest.update(view)
    view.release()
objects_sum = sum(k for k, _ in cold_objects) + sum(len(s) for _, s in cold_objects)
print("dataset %d MiB sha256 %s" % (size // MiB, digest.hexdigest()))
print("objects %d checksum %d" % (objects, objects_sum))
print("hot part touched (%d MiB): ok" % (hot_bytes // MiB))
print("footprint VmHWM %d MiB VmRSS %d MiB" % (status("VmHWM"), status("VmRSS")), file=sys.stderr)
