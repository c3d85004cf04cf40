#!/usr/bin/env python3
# gen-corpus.py - writes the hand-made seeds of tests/fuzz/corpus/ that are
# not copies of examples/ or golden files: wire lines, HTTP requests, trace
# folders, migration streams, config edge cases.  Rerun after a format
# changes; the output is deterministic.
import os, struct

HERE = os.path.dirname(os.path.abspath(__file__))

def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# ---- wire: JSON lines ---------------------------------------------------
hello = ('{"v":1,"type":"hello","host":"h1","seq":0,"ts":1764150000.1,'
         '"agent":"0.1.0","boot_id":"b","cores":16,"mem_kb":65843212,'
         '"cpu":{"vendor":"GenuineIntel","model":"x","flags":["vmx","avx2"]},'
         '"hypervisor":"ebb-vmm","power_driver":"ipmi","interval_s":5,'
         '"vms":[{"id":"vm1","state":"running","vcpus":2,"mem_mb":2048}]}')
report = ('{"v":1,"type":"report","host":"h1","seq":7,"ts":1764150005,'
          '"interval_s":5,"cpu":{"busy":0.31,"cores":[0.52,0.10],'
          '"steal":0.0,"iowait":0.01},"load":[0.8,0.7,0.6],'
          '"mem":{"total_kb":100,"avail_kb":50},"parked":"4-15",'
          '"unparked":"0-3","power":{"watts":142.0,"estimate":true},'
          '"vms":[{"id":"vm1","state":"running","cpu":0.44,'
          '"vcpu":[0.5,0.38],"mem_mb":2048,"dirty_pps":1200}]}')
command = ('{"v":1,"type":"command","host":"h1","seq":3,"ts":1.5,"cmd":3,'
           '"op":"migrate","vm":"vm1","to":"h2","token":"abc",'
           '"downtime_ms":300,"bandwidth":1000}')
put("wire", "hello", hello + "\n")
put("wire", "report", report + "\n")
put("wire", "command", command + "\n")
put("wire", "pipelined", hello + "\n" + report + "\n" + command + "\n")
put("wire", "result", '{"v":1,"type":"result","host":"h1","seq":9,"ts":2,'
    '"cmd":3,"ok":false,"error":"why"}\n')
put("wire", "bad-version", '{"v":2,"type":"hello","host":"h","seq":0,"ts":0}\n')
put("wire", "dup-key", '{"v":1,"v":1,"type":"x","host":"h","seq":0,"ts":0}\n')
put("wire", "escapes", '{"v":1,"type":"x\\u0000y","host":"h\\ud800",'
    '"seq":18446744073709551615,"ts":1e308}\n')
put("wire", "no-newline", '{"v":1,"type":"x","host":"h","seq":-1,"ts":-0.0}')
put("wire", "not-object", '[1,2,3]\n"x"\nnull\n\n')

# ---- http: requests -----------------------------------------------------
put("http", "get", "GET /api/hosts?since=5&x HTTP/1.1\r\nHost: a\r\n\r\n")
put("http", "post", "POST /api/hosts/h1/drain HTTP/1.1\r\nHost: a\r\n"
    "Authorization: Bearer fuzz-token\r\nContent-Type: application/json\r\n"
    "Content-Length: 13\r\n\r\n{\"why\":\"op\"}\n")
put("http", "pipelined", "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
    "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
    "GET /vms/a%2Fb/c%20d HTTP/1.0\r\n\r\n")
put("http", "expect", "PUT /api/x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue"
    "\r\nContent-Length: 4\r\n\r\nabcd")
put("http", "chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
    "chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n")
put("http", "bad-lf", "GET / HTTP/1.1\nHost: a\n\n")
put("http", "two-hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
put("http", "obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n")
put("http", "absolute", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n")
put("http", "escapes", "GET /a/%zz/%00/..%2f?q=%41+b HTTP/1.1\r\nHost: a\r\n\r\n")
put("http", "hdr", "GET /hdr?v%0d%0aX:%201 HTTP/1.1\r\nHost: a\r\n\r\n")
put("http", "cl-neg", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n")
put("http", "cl-huge", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
    "99999999999999999999999\r\n\r\n")
put("http", "crlf-before", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
put("http", "many-segs", "GET /" + "a/" * 20 + " HTTP/1.1\r\nHost: a\r\n\r\n")

# ---- sim_trace: byte 0 = samples - 1, files cut at 0xff -----------------
day = "".join("%d\n" % ((i * 7) % 101) for i in range(288)).encode()
put("sim_trace", "day", bytes([255]) + day)
put("sim_trace", "three", bytes([9]) + b"1\n2\n3\n" + b"\xff" + b"0\n100\n"
    + b"\xff" + b" 5 \t\r\n\n\n")
put("sim_trace", "junk", bytes([3]) + b"1\n-0\n1e2\n0x10\n")
put("sim_trace", "nul", bytes([3]) + b"1\n2\x003\n")
put("sim_trace", "range", bytes([0]) + b"101\n" + b"\xff" + b"inf\n")
put("sim_trace", "blank-mid", bytes([4]) + b"1\n\n2\n")

# ---- mig_recv: byte 0 odd = untagged records, signed by the harness --------
def rec(t, payload):
    return struct.pack("<II", t, len(payload)) + payload

HELLO, CONFIG, RAM, ROUND_END, STATE, DONE, ACK, NACK, CANCEL = range(1, 10)
PS = 4096
def hello_p(salt=b"S" * 32, mid=7, version=1, flags=0):
    return b"\x89EBBMIG\n" + struct.pack("<II", version, flags) + salt + \
        struct.pack("<Q", mid)
def config_p(npages=4, vcpus=1, feats=(0x3,), js=b'{"name":"vm1"}'):
    v = b"GenuineIntel".ljust(16, b"\0")
    return struct.pack("<QII", npages, PS, vcpus) + v + \
        struct.pack("<I", len(feats)) + b"".join(struct.pack("<Q", f)
        for f in feats) + js
def ram_p(start, count, zero_bits, pages):
    zm = bytearray((count + 7) // 8)
    for i in zero_bits:
        zm[i // 8] |= 1 << (i % 8)
    return struct.pack("<QI", start, count) + bytes(zm) + b"".join(pages)
page = lambda b: bytes([b]) * PS
valid = (rec(HELLO, hello_p()) + rec(CONFIG, config_p()) +
         rec(RAM, ram_p(0, 4, [1, 3], [page(1), page(2)])) +
         rec(ROUND_END, struct.pack("<IIQQ", 0, 0, 4, 1)) +
         rec(RAM, ram_p(2, 1, [], [page(3)])) +
         rec(ROUND_END, struct.pack("<IIQQ", 1, 0, 1, 0)) +
         rec(STATE, b"vcpu-state") +
         rec(DONE, struct.pack("<IIQ", 2, 0, 5)))
put("mig_recv", "valid", b"\x01" + valid)
# The same, encrypted (HELLO flag 1): the harness encrypts what follows.
put("mig_recv", "valid-encrypted", b"\x01" + rec(HELLO, hello_p(flags=1)) +
    valid[len(rec(HELLO, hello_p())):])
put("mig_recv", "cancel", b"\x01" + rec(HELLO, hello_p()) +
    rec(CONFIG, config_p()) + rec(CANCEL, struct.pack("<I", 125) + b"stop"))
put("mig_recv", "too-big", b"\x01" + rec(HELLO, hello_p()) +
    rec(CONFIG, config_p(npages=1 << 40)))
put("mig_recv", "no-config", b"\x01" + rec(HELLO, hello_p()) +
    rec(RAM, ram_p(0, 1, [0], [])))
put("mig_recv", "ram-outside", b"\x01" + rec(HELLO, hello_p()) +
    rec(CONFIG, config_p()) + rec(RAM, ram_p(3, 2, [0, 1], [])))
put("mig_recv", "version2", b"\x01" + rec(HELLO, hello_p(version=2)))
put("mig_recv", "raw-unsigned", b"\x00" + valid[:200])
put("mig_recv", "raw-huge-len", b"\x00" + struct.pack("<II", 1, 0xffffffff))

# ---- sim_fleet / config edge cases ---------------------------------------
put("sim_fleet", "minimal", '{"hosts": 1, "host_types": [{"name": "a", '
    '"pes": 1, "pe_mips": 1000, "ram_mb": 1024, "bw": 1000000, '
    '"power_w": [1,2,3,4,5,6,7,8,9,10,11]}]}')
put("sim_fleet", "bad-curve", '{"hosts": 2, "host_types": [{"name": "a", '
    '"pes": 1, "pe_mips": 1e308, "ram_mb": -1, "bw": 0, '
    '"power_w": [11,10,9,8,7,6,5,4,3,2,1]}]}')
put("ctl_config", "empty", "{}")
put("ctl_config", "hosts-drivers", '{"hosts": [{"name": "a", "power_w": '
    '[1,1,1,1,1,1,1,1,1,1,2], "power": {"driver": "ipmi", "bmc": '
    '"10.0.0.1", "user": "u", "password_file": "/p"}}, {"name": "b", '
    '"power": {"driver": "wol", "mac": "52:54:00:12:34:56", "broadcast": '
    '"10.0.0.255", "port": 7, "off": "ssh b poweroff"}}, {"name": "c", '
    '"power": {"driver": "command", "on": "x", "off": "y"}}, {"name": "d", '
    '"power": {"driver": "demo"}}, {"name": "a"}]}')
put("ctl_config", "window", '{"window": {"start": "24:00", "end": "-1:60"}, '
    '"limits": {"migrations_total": 0}}')
put("ctl_config", "unlisted-crl", '{"hosts": [{"name": "a"}], '
    '"unlisted_hosts": "refuse", "tls": {"ca": "/c", "cert": "/d", '
    '"key": "/k", "crl": "/r"}}')
put("agt_config", "nul-inside", b'{"host": "a\\u0000b"}')
put("agt_config", "tls-crl", '{"host": "a", "controller": "c:7400", '
    '"tls": {"ca": "/c", "cert": "/d", "key": "/k", "crl": "/r", '
    '"server_name": "ctl"}}')
put("policy", "wake-after", '{"power": {"wake_after_samples": 3}}')
put("policy", "nul-inside", b'{"name": "a\\u0000b"}')
