#!/usr/bin/env python3
"""Check src/config/params.tsv: format, order, vocabulary, docs, and (when the
real Postfix `postconf` is installed) that every default equals `postconf -d`.

Usage: scripts/check-params.py [path/to/params.tsv]   (exit 1 on any problem)
"""
import os, subprocess, sys, tempfile

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'config', 'params.tsv')
TYPES = {'bool', 'int', 'long', 'time', 'str'}
STATUS = {'yes', 'later', 'no'}
TOKENS = {'@myhostname', '@mydomain', '@mynetworks', '@process_id', '@process_name'}
NO_MARK = '(no effect in Postern) '
MAX_DOC = 120
# Rows that are not in Postfix 3.7's `postconf -d` (Postern additions).
ADDITIONS = {'smtp_log_tls_feature_status'}
# Rows whose default deliberately differs from Postfix 3.7 (reason in the doc).
DIFFERS = {'smtpd_forbid_bare_newline'}

errors = []
def err(lineno, msg):
    errors.append('%s:%d: %s' % (path, lineno, msg))

rows = []
with open(path, encoding='utf-8') as fh:
    for lineno, line in enumerate(fh, 1):
        line = line.rstrip('\n')
        if line.startswith('#'):
            continue
        if not line.strip():
            err(lineno, 'empty line')
            continue
        f = line.split('\t')
        if len(f) != 5:
            err(lineno, 'expected 5 fields, got %d' % len(f))
            continue
        name, typ, status, default, doc = f
        rows.append((lineno, name, typ, status, default, doc))
        if typ not in TYPES:
            err(lineno, '%s: bad type %r' % (name, typ))
        if status not in STATUS:
            err(lineno, '%s: bad status %r' % (name, status))
        if not doc or 'TODO' in doc:
            err(lineno, '%s: missing doc' % name)
        if len(doc) > MAX_DOC:
            err(lineno, '%s: doc is %d chars (max %d)' % (name, len(doc), MAX_DOC))
        if (status == 'no') != doc.startswith(NO_MARK):
            err(lineno, '%s: status %s but doc %s the no-effect marker' % (
                name, status, 'has' if doc.startswith(NO_MARK) else 'lacks'))
        if typ == 'bool' and default not in ('yes', 'no') and not default.startswith('$'):
            err(lineno, '%s: bool default %r' % (name, default))
        if typ in ('int', 'long') and default and default not in TOKENS and not default.lstrip('-').isdigit() \
                and not default.startswith('$'):
            err(lineno, '%s: %s default %r' % (name, typ, default))

names = [r[1] for r in rows]
if names != sorted(names):
    for a, b in zip(rows, rows[1:]):
        if a[1] > b[1]:
            err(b[0], '%s sorts before %s' % (b[1], a[1]))
seen = set()
for r in rows:
    if r[1] in seen:
        err(r[0], 'duplicate %s' % r[1])
    seen.add(r[1])

# Compare defaults with the installed Postfix, if any.
def postfix_defaults():
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, 'main.cf'), 'w').close()
        master = '/etc/postfix/master.cf'
        if os.path.exists(master):
            with open(master) as src, open(os.path.join(d, 'master.cf'), 'w') as dst:
                dst.write(src.read())
        try:
            out = subprocess.run(['postconf', '-c', d, '-d'], capture_output=True,
                                 text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
    res = {}
    for line in out.splitlines():
        k, _, v = line.partition(' =')
        res[k.strip()] = v[1:] if v.startswith(' ') else v
    return res

pf = postfix_defaults()
if pf is None:
    print('note: postconf not usable, defaults not compared', file=sys.stderr)
else:
    for lineno, name, typ, status, default, doc in rows:
        if name in ADDITIONS:
            if name in pf:
                err(lineno, '%s listed as addition but Postfix knows it' % name)
            continue
        if name not in pf:
            # per-service parameters appear only with the service in master.cf
            pfx = name.split('_')[0]
            if not any(k.startswith(pfx + '_') for k in pf):
                err(lineno, '%s: unknown to postconf -d' % name)
            continue
        if default in TOKENS or name in DIFFERS:
            continue
        if pf[name] != default:
            err(lineno, '%s: default %r, postconf -d says %r' % (name, default, pf[name]))
    missing = set(pf) - seen
    for n in sorted(missing):
        errors.append('%s: missing row for %s' % (path, n))

for e in errors:
    print(e)
print('%d rows, %d problems' % (len(rows), len(errors)), file=sys.stderr)
sys.exit(1 if errors else 0)
