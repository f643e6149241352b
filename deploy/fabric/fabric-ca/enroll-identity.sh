#!/usr/bin/env bash
# Register and enroll one eidgate client identity at an organisation's Fabric
# CA, with the eidgate attributes in its enrollment certificate.
#
#   enroll-identity.sh --ca-url https://ca.platform.eidgate.example:7054 \
#       --tls-cert ca-tls.pem --registrar-home ./registrar \
#       --name agent --role agent --out ./identities/agent
#
#   enroll-identity.sh --ca-url https://ca.edubureau.eidgate.example:8054 \
#       --tls-cert ca-tls.pem --registrar-home ./registrar \
#       --name edu-bureau-gateway --role department --dept edu-bureau \
#       --out ./identities/edu-bureau-gateway
#
# --registrar-home is the fabric-ca-client home of an already enrolled
# registrar (fabric-ca-client enroll -u https://registrar:…@… -H DIR) allowed
# to register client identities with eidgate.* attributes (README.md).
# --role is admin, agent or department; department needs --dept, the
# department's ID as registered on chain. The attributes are registered with
# the :ecert suffix, so every enrollment certificate carries them (Fabric CA
# extension 1.2.3.4.5.6.7.8.1, read by the chaincode through cid).
#
# The enrollment secret is random, used once and not printed. The MSP lands
# in OUT/msp (signcerts/, keystore/, cacerts/, and the NodeOU config.yaml the
# peer CLI needs on a channel whose MSPs use NodeOUs); point a connection
# profile's msp.dir at it. Needs fabric-ca-client 1.5 on PATH.
set -euo pipefail

die() {
	printf 'enroll-identity.sh: %s\n' "$*" >&2
	exit 2
}

ca_url="" tls_cert="" registrar="" name="" role="" dept="" out="" caname=""
while [ $# -gt 0 ]; do
	case "$1" in
	--ca-url) ca_url="${2:-}" ;;
	--tls-cert) tls_cert="${2:-}" ;;
	--registrar-home) registrar="${2:-}" ;;
	--name) name="${2:-}" ;;
	--role) role="${2:-}" ;;
	--dept) dept="${2:-}" ;;
	--out) out="${2:-}" ;;
	--caname) caname="${2:-}" ;;
	-h | --help)
		sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	[ $# -ge 2 ] || die "$1 needs a value"
	shift 2
done

if [ -z "$ca_url" ] || [ -z "$registrar" ] || [ -z "$name" ] || [ -z "$role" ] || [ -z "$out" ]; then
	die "--ca-url, --registrar-home, --name, --role and --out are required"
fi
command -v fabric-ca-client >/dev/null || die "fabric-ca-client is not on PATH"
[[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "--name $name: letters, digits, . _ - only"
case "$role" in
admin | agent)
	[ -z "$dept" ] || die "--dept is only for --role department"
	attrs="eidgate.role=$role:ecert"
	;;
department)
	[[ "$dept" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "--role department needs --dept ID (lower-case letters, digits, -)"
	attrs="eidgate.role=department:ecert,eidgate.dept=$dept:ecert"
	;;
*) die "--role must be admin, agent or department, not $role" ;;
esac
[ -d "$registrar/msp" ] || die "$registrar/msp does not exist; enroll the registrar first"
[ ! -e "$out/msp" ] || die "$out/msp exists; choose another --out or remove it"

scheme="${ca_url%%://*}"
hostport="${ca_url#*://}"
tls=()
if [ "$scheme" = https ]; then
	[ -n "$tls_cert" ] || die "--tls-cert is required for an https CA"
	tls=(--tls.certfiles "$(cd "$(dirname "$tls_cert")" && pwd)/$(basename "$tls_cert")")
fi
ca=()
[ -z "$caname" ] || ca=(--caname "$caname")

secret="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
fabric-ca-client register --home "$registrar" -u "$ca_url" "${tls[@]}" "${ca[@]}" \
	--id.name "$name" --id.secret "$secret" --id.type client --id.maxenrollments 1 \
	--id.attrs "$attrs" >/dev/null
mkdir -p "$out"
fabric-ca-client enroll --home "$out" -u "$scheme://$name:$secret@$hostport" "${tls[@]}" "${ca[@]}" >/dev/null
# NodeOUs: the identity is a client (--id.type client puts OU=client in
# its certificate), classified against the CA certificate just stored.
cacert="$(cd "$out/msp/cacerts" && find . -maxdepth 1 -name '*.pem' -printf '%f\n' | head -1)"
[ -n "$cacert" ] || die "fabric-ca-client stored no CA certificate in $out/msp/cacerts"
{
	echo "NodeOUs:"
	echo "  Enable: true"
	for ou in Client:client Peer:peer Admin:admin Orderer:orderer; do
		printf '  %sOUIdentifier:\n    Certificate: cacerts/%s\n    OrganizationalUnitIdentifier: %s\n' "${ou%%:*}" "$cacert" "${ou#*:}"
	done
} >"$out/msp/config.yaml"
printf 'enrolled %s with %s into %s/msp\n' "$name" "$attrs" "$out"
