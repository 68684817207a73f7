#!/bin/sh
# Captures the bounces a real Postfix 3.7 writes, for the comparison tests in
# src/bounce/tests_postfix.rs. Run as root with Debian's postfix package
# installed: sh src/bounce/testdata/capture.sh. It starts a private instance in
# a temporary directory (never /etc/postfix) on 127.0.0.1:$PORT, sends the
# test messages over SMTP with DSN parameters, waits for the notices to reach
# its Maildir, and copies them here as postfix-*.eml (or into $OUT when set:
# tests_postfix.rs does that to compare with the Postfix installed now).
set -eu
OUT=${OUT:-$(cd "$(dirname "$0")" && pwd)}
PORT=${PORT:-10587}
D=$(mktemp -d /tmp/postern-bounce-capture.XXXXXX)
chmod 755 "$D"
mkdir "$D/etc" "$D/spool" "$D/data" "$D/vmail"
chown postfix:postfix "$D/data" "$D/vmail"
UID_=$(id -u postfix); GID_=$(id -g postfix)
cat > "$D/etc/main.cf" <<CF
compatibility_level = 3.6
config_directory = $D/etc
queue_directory = $D/spool
data_directory = $D/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
maillog_file = $D/maillog
maillog_file_prefixes = $D
myhostname = mx.test.example
mydomain = test.example
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = test.example, mx.test.example
virtual_mailbox_base = $D/vmail
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:$UID_
virtual_gid_maps = static:$GID_
virtual_minimum_uid = 1
transport_maps = texthash:$D/etc/transport
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 1s
notify_classes = resource, software, 2bounce
# Let the error: recipients through RCPT so they bounce after queueing.
smtpd_reject_unlisted_recipient = no
virtual_alias_maps = texthash:$D/etc/virtual
CF
echo "alias@test.example nosuch@fail.example" > "$D/etc/virtual"
cat > "$D/etc/transport" <<TP
fail.example error:5.1.1 user unknown
defer.example retry:4.4.1 destination busy
long.example error:5.2.2 mailbox full: the recipient's mailbox has exceeded its storage allocation of 1024 megabytes and cannot accept more mail at this time
TP
{
  echo "127.0.0.1:$PORT inet n - n - - smtpd"
  awk '/^[ \t]/ { if (keep) print; next }
       !/^#/ && NF >= 8 && $2 != "inet" && $8 != "pipe" { $5 = "n"; print; keep = 1; next }
       { keep = 0 }' /usr/share/postfix/master.cf.dist
} > "$D/etc/master.cf"
postfix -c "$D/etc" start
trap 'postfix -c "$D/etc" stop; rm -rf "$D"' EXIT
sleep 2
python3 - "$PORT" <<'PY'
import smtplib, sys, time
port = int(sys.argv[1])
def send(sender, rcpts, subject, mail_opts=(), rcpt_opts=(), body="Hello.\n"):
    s = smtplib.SMTP("127.0.0.1", port)
    s.ehlo("client.test.example")
    s.mail(sender, list(mail_opts))
    for r in rcpts:
        s.rcpt(r, list(rcpt_opts))
    msg = ("From: <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@client.test.example>\r\n"
           "Date: Tue, 01 Dec 2026 12:00:00 +0000\r\n\r\n%s" % (
               sender or "nobody@test.example", ", ".join("<%s>" % r for r in rcpts),
               subject, subject, body.replace("\n", "\r\n")))
    s.data(msg)
    s.quit()
send("full@test.example", ["nosuch@fail.example"], "full",
     ["RET=FULL", "ENVID=env+2B1"], ["NOTIFY=FAILURE", "ORCPT=rfc822;orig+2Bx@fail.example"])
send("hdrs@test.example", ["nosuch@fail.example"], "hdrs", ["RET=HDRS"])
send("big@test.example", ["nosuch@fail.example"], "big", [], [],
     "".join("line %05d of a long body that will be cut by bounce_size_limit\n" % i for i in range(2000)))
send("two@test.example", ["a@fail.example", "b@fail.example"], "two")
send("success@test.example", ["user@test.example"], "success",
     ["RET=FULL"], ["NOTIFY=SUCCESS"])
send("delay@test.example", ["later@defer.example"], "delay")
send("", ["nosuch@fail.example"], "null")
send("expand@test.example", ["alias@test.example"], "expand")
send("long@test.example", ["x@long.example"], "long")
PY
# Wait until the notices have arrived (full, hdrs, big, two, success, delay,
# the double bounce to postmaster, expand, long, and the success message
# itself).
i=0
while [ $i -lt 60 ]; do
  n=$(ls "$D/vmail/Maildir/new" 2>/dev/null | wc -l)
  [ "$n" -ge 10 ] && break
  sleep 1; i=$((i + 1))
done
for f in "$D"/vmail/Maildir/new/*; do
  to=$(sed -n 's/^Delivered-To: //p' "$f" | head -1)
  subj=$(sed -n 's/^Subject: //p' "$f" | head -1)
  case "$to" in
    user@test.example) continue ;;
    postmaster@*) name=double ;;
    *) name=${to%%@*} ;;
  esac
  cp "$f" "$OUT/postfix-$name.eml"
  echo "$name: $subj"
done
cp "$D/maillog" "$OUT/postfix-capture.log"
