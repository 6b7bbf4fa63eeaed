#!/usr/bin/env python3
"""Writes the bad-input fixtures: one folder per case, holding the input (`bundle.*`), optional
extra CLI arguments (`args`), and the text the one-line error must contain (`expected`).
The outputs are committed; rerun this only to change a case."""
import gzip, io, os, shutil, struct, zipfile, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = ("#Software: Microsoft Exchange Server\r\n#Version: 15.01.2375.007\r\n"
          "#Log-type: Message Tracking Log\r\n#Date: 2026-11-16T08:00:00.000Z\r\n"
          "#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,"
          "connector-id,source,event-id,internal-message-id,message-id,network-message-id,"
          "recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,"
          "reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,"
          "original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version\r\n")
ROW = ("2026-11-16T08:00:01.000Z,,EX01,,EX01,,,STOREDRIVER,DELIVER,1,<a@corp.example>,"
       "6a638d20-1e63-493a-80a2-08da9a4ff8da,x@corp.example,250 2.1.5 Recipient OK,100,1,,,%s,"
       "y@corp.example,y@corp.example,,Originating,,,,,Email,6a638d20-1e63-493a-80a2-08da9a4ff8da,15.01.2375.007\r\n")
LOG = ("\ufeff" + HEADER + ROW % "hello").encode()

def case(name, expected, args=""):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(d, "expected"), "w") as f:
        f.write(expected + "\n")
    if args:
        with open(os.path.join(d, "args"), "w") as f:
            f.write(args + "\n")
    return d

def zip_with(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, (2026, 11, 16, 8, 0, 0)), data, zipfile.ZIP_DEFLATED)

def zipcrypto_zip(path, name, data, password):
    """A zip with one stored entry encrypted the classic PKWARE way (what `zip -P` and Windows
    tools write), built by hand because Python's zipfile only decrypts. Deterministic: the
    12-byte encryption header is fixed rather than random."""
    table = [0] * 256
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table[i] = c
    keys = [0x12345678, 0x23456789, 0x34567890]
    def crc_byte(k, b):
        return (k >> 8) ^ table[(k ^ b) & 0xFF]
    def update(b):
        keys[0] = crc_byte(keys[0], b)
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = crc_byte(keys[2], keys[1] >> 24)
    for b in password:
        update(b)
    crc = zlib.crc32(data)
    out = bytearray()
    for p in bytes(11) + bytes([crc >> 24]) + data:
        t = keys[2] | 2
        out.append(p ^ (((t * (t ^ 1)) >> 8) & 0xFF))
        update(p)
    n = name.encode()
    dostime, dosdate = 8 << 11, ((2026 - 1980) << 9) | (11 << 5) | 16
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 1, 0, dostime, dosdate, crc, len(out), len(data), len(n), 0) + n
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 1, 0, dostime, dosdate, crc, len(out), len(data), len(n), 0, 0, 0, 0, 0, 0) + n
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(out), 0)
    with open(path, "wb") as f:
        f.write(local + out + central + end)

def main():
    d = case("truncated-zip", "the zip archive is truncated or corrupt")
    buf = io.BytesIO(); zip_with(buf, [("EX01/MSGTRK2026111608-1.LOG", LOG * 20)])
    data = buf.getvalue()
    open(os.path.join(d, "bundle.zip"), "wb").write(data[: len(data) // 2])

    d = case("not-a-zip", "not a zip archive")
    open(os.path.join(d, "bundle.zip"), "wb").write(b"this is a text file with a .zip name\n")

    d = case("empty-zip", "the bundle is empty")
    zip_with(os.path.join(d, "bundle.zip"), [])

    d = case("parent-path", "unsafe path inside the archive")
    zip_with(os.path.join(d, "bundle.zip"), [("EX01/MSGTRK2026111608-1.LOG", LOG), ("../../x", LOG)])

    d = case("absolute-path", "unsafe path inside the archive")
    zip_with(os.path.join(d, "bundle.zip"), [("/etc/x", LOG)])

    d = case("zip-bomb", "inflates past the limit", "--max-uncompressed 1M")
    zip_with(os.path.join(d, "bundle.zip"), [("EX01/MSGTRK2026111608-1.LOG", LOG + b"0" * (8 << 20))])

    d = case("nested-too-deep", "archives nested more than 3 deep")
    inner = LOG
    name = "EX01/MSGTRK2026111608-1.LOG"
    for level in range(5):
        buf = io.BytesIO(); zip_with(buf, [(name, inner)]); inner = buf.getvalue(); name = "level%d.zip" % level
    open(os.path.join(d, "bundle.zip"), "wb").write(inner)

    d = case("latin1-log", "undecodable text")
    bad = ("\ufeff" + HEADER).encode() + (ROW % "caf\xe9").encode("latin-1")
    zip_with(os.path.join(d, "bundle.zip"), [("EX01/MSGTRK2026111608-1.LOG", bad)])

    d = case("utf16-broken", "undecodable text")
    text = "Received,SenderAddress,RecipientAddress,Subject,Status\r\n2026-11-16T08:00:00Z,a@b.example,c@d.example,x,Delivered\r\n"
    raw = b"\xff\xfe" + text.encode("utf-16-le") + b"\x00\xd8\x41\x00"  # a lone high surrogate
    open(os.path.join(d, "bundle.csv"), "wb").write(raw)

    d = case("nothing-parses", "nothing in the bundle could be read as an Exchange log")
    zip_with(os.path.join(d, "bundle.zip"), [("notes.txt", b"these are my notes\n"), ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00")])

    d = case("missing-file", "no such file or folder")
    # No input is written: the test points at bundle.zip, which does not exist.

    d = case("gzip-truncated", "cannot decompress")
    gz = gzip.compress(LOG * 50, mtime=0)
    zip_with(os.path.join(d, "bundle.zip"), [("EX01/MSGTRK2026111608-1.LOG.gz", gz[: len(gz) // 2])])

    d = case("zip-bomb-ratio", "inflates more than 1000 times its compressed size")
    zip_with(os.path.join(d, "bundle.zip"), [("EX01/MSGTRK2026111608-1.LOG", LOG + b"0" * (64 << 20))])

    d = case("duplicate-names", "two or more entries share a name")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zip_with(os.path.join(d, "bundle.zip"), [("EX01/MSGTRK2026111608-1.LOG", LOG), ("EX01/MSGTRK2026111608-1.LOG", LOG)])

    d = case("backslash-duplicate", "two or more entries share a name")
    # Windows tools write `\`, others `/`: one file under both spellings would be read twice.
    zip_with(os.path.join(d, "bundle.zip"), [("EX01\\TransportRoles\\Logs\\MessageTracking\\MSGTRK2026111608-1.LOG", LOG),
                                             ("EX01/TransportRoles/Logs/MessageTracking/MSGTRK2026111608-1.LOG", LOG)])

    d = case("encrypted-entry", "encrypted entry; export the logs without a password")
    zipcrypto_zip(os.path.join(d, "bundle.zip"), "EX01/MSGTRK2026111608-1.LOG", LOG, b"secret")

    d = case("bad-tz", "--tz", "--tz Europe/Berlin")
    zip_with(os.path.join(d, "bundle.zip"), [("EX01/MSGTRK2026111608-1.LOG", LOG)])

main()
