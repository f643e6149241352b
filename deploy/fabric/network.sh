#!/usr/bin/env bash
# Run the eidgate Fabric 2.5 network natively on 127.0.0.1, without Docker.
#
#   network.sh up        crypto, Fabric CAs, orderers, peers, channel "eidgate"
#   network.sh deploy    package eidgate-chaincode as CCaaS, run it, and bring
#                        the chaincode definition to CC_VERSION; every step
#                        checks the state first, so deploy can be re-run (a
#                        no-op when nothing changed) and resumes after a
#                        partial failure
#   network.sh addorg KEY MSPID DEPT
#                        a new department organisation joins the running
#                        channel by a channel configuration update
#   network.sh health    every node's operations /healthz (fails unless 200)
#   network.sh status    the processes this script started
#   network.sh ports     every port the network's nodes listen on
#   network.sh core-yaml BUILDER_DIR
#                        print Fabric's sample core.yaml as this script's
#                        peers use it (ccaas builder at BUILDER_DIR, empty
#                        vm.endpoint), e.g. for the Docker images
#   network.sh stop NODE / start NODE
#                        stop or restart one node (e.g. peer0.edubureau)
#   network.sh down      stop every process and remove the work dir
#
# Needs on PATH, from the Fabric 2.5 and Fabric CA 1.5 release archives
# (install-fabric.sh binary): peer orderer osnadmin configtxgen configtxlator
# cryptogen fabric-ca-server fabric-ca-client; and jq for addorg. Fabric's
# sample config dir (core.yaml, orderer.yaml) and the ccaas builder are found
# next to the binaries (<fabric>/config, <fabric>/builders/ccaas) unless set.
#
# Environment (read by up; later commands take them from the work dir):
#   EIDGATE_NETWORK_DIR  work dir (default: deploy/fabric/.network)
#   EIDGATE_PORT_OFFSET  added to every port (default 0), so several networks
#                        can run on one machine: use multiples of 4000
#   ORDERERS             3 (Raft, profile eidgate) or 1 (dev, profile eidgate-dev)
#   FABRIC_CFG_DIR       dir holding Fabric's sample core.yaml and orderer.yaml
#   CCAAS_BUILDER_DIR    dir holding the ccaas builder's bin/
#   EIDGATE_BATCH_TIMEOUT, EIDGATE_BATCH_MAX_MESSAGES
#                        replace configtx.yaml's orderer BatchTimeout and
#                        BatchSize.MaxMessageCount (to measure other settings)
# Read by deploy and addorg:
#   EIDGATE_BIN, EIDGATE_CHAINCODE_BIN
#                        binaries to use; built with `go build` when unset
#   CC_VERSION           chaincode definition version (default: the committed
#                        one, else 1.0); the package label is eidgate_<CC_VERSION>
#
# Everything lives under the work dir: network.env (offset, orderers, paths),
# orgs and identities (the members), crypto-config/, identities/<org>/<name>/msp
# (client MSPs with eidgate.role/eidgate.dept attributes and the NodeOU
# config.yaml), nodes/<node>/ (config and env), data/, logs/, pids/, and
# gateway/<org>-<name>.yaml connection profiles for
# `eidgate serve --ledger fabric --fabric-profile …`.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
WORK="${EIDGATE_NETWORK_DIR:-$SCRIPT_DIR/.network}"
CHANNEL=eidgate
CC_NAME=eidgate
CC_VERSION="${CC_VERSION:-}"
HOST=127.0.0.1
DOMAIN=eidgate.example
ORDERER_DOMAIN=orderer.$DOMAIN

# Port layout at offset 0. Peer organisation number i (0-based) uses
# 7051+1000i (peer), 7052+1000i (chaincode callback), 7054+1000i (CA),
# 9446+i (peer operations), 9454+i (CA operations); orderer i uses
# 7050+1000i, admin 7053+1000i, operations 9443+i. Chaincode servers listen
# on 9990-9999 (sequence N on 9990 + N mod 10), so the old and the new
# version run side by side during an upgrade. Four organisations reach
# 10054: offsets in steps of 4000 never overlap.
BASE_ORGS=(
	"platform|PlatformMSP|"
	"edubureau|EduBureauMSP|edu-bureau"
	"civilaffairs|CivilAffairsMSP|civil-affairs"
)
MAX_ORGS=4
# org key | identity | attributes (all land in the enrollment certificate)
BASE_IDENTITIES=(
	"platform|agent|eidgate.role=agent:ecert"
	"platform|platform-admin|eidgate.role=admin:ecert"
	"edubureau|department|eidgate.role=department:ecert,eidgate.dept=edu-bureau:ecert"
	"civilaffairs|department|eidgate.role=department:ecert,eidgate.dept=civil-affairs:ecert"
)
# Development-only Fabric CA bootstrap secret; the CAs listen on 127.0.0.1.
CA_ADMIN="admin"
CA_ADMIN_SECRET="adminpw"

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'network.sh: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 2
}

need() {
	local missing=() t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	[ "${#missing[@]}" -eq 0 ] || die "not on PATH: ${missing[*]} (install the Fabric 2.5 and Fabric CA 1.5 binaries)"
}

# retry N DELAY CMD...: run CMD until it succeeds, at most N times.
retry() {
	local n=$1 delay=$2 i
	shift 2
	for ((i = 1; i <= n; i++)); do
		if "$@"; then
			return 0
		fi
		[ "$i" -lt "$n" ] && sleep "$delay"
	done
	return 1
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
	retry 120 0.5 port_open "$HOST" "$1" || die "nothing listens on $HOST:$1 after 60s (see $WORK/logs)"
}

# http_status PORT PATH: the HTTP status code of GET http://127.0.0.1:PORT/PATH
# (000 when nothing answers).
http_status() {
	local code=000 line
	if exec 3<>"/dev/tcp/$HOST/$1" 2>/dev/null; then
		printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$2" "$HOST" "$1" >&3
		if IFS= read -r -t 10 line <&3; then
			code="$(printf '%s' "$line" | awk '{print $2}')"
		fi
		exec 3<&-
	fi
	printf '%s' "${code:-000}"
}

# http_get PORT PATH: the body of GET http://127.0.0.1:PORT/PATH.
http_get() {
	exec 3<>"/dev/tcp/$HOST/$1" 2>/dev/null || return 1
	printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$2" "$HOST" "$1" >&3
	sed '1,/^\r$/d' <&3
	exec 3<&-
}

field() { # field INDEX RECORD: the INDEX-th (1-based) |-separated field
	local IFS='|'
	# shellcheck disable=SC2206 # records hold no glob characters
	local parts=($2)
	printf '%s' "${parts[$(($1 - 1))]:-}"
}

# ---------------------------------------------------------------- members

# An organisation record: key | MSP ID | domain | peer port | chaincode
# callback port | peer operations port | CA port | CA operations port |
# department id (empty for the platform). Ports include the offset.
org_record_for() { # org_record_for INDEX KEY MSPID DEPT
	local i=$1 o=$PORT_OFFSET
	printf '%s|%s|%s.%s|%d|%d|%d|%d|%d|%s' "$2" "$3" "$2" "$DOMAIN" \
		$((7051 + 1000 * i + o)) $((7052 + 1000 * i + o)) $((9446 + i + o)) \
		$((7054 + 1000 * i + o)) $((9454 + i + o)) "$4"
}

# An orderer record: name | port | admin port | operations port.
orderer_record_for() { # orderer_record_for INDEX
	local i=$1 o=$PORT_OFFSET
	printf 'orderer%d|%d|%d|%d' "$i" $((7050 + 1000 * i + o)) $((7053 + 1000 * i + o)) $((9443 + i + o))
}

ORGS=()
ORDERER_NODES=()
IDENTITIES=()

# load_network: the settings and members up recorded in the work dir.
load_network() {
	[ -f "$WORK/network.env" ] || die "no network at $WORK; run '$0 up' first"
	# shellcheck source=/dev/null
	. "$WORK/network.env"
	mapfile -t ORGS <"$WORK/orgs"
	mapfile -t ORDERER_NODES <"$WORK/orderers"
	mapfile -t IDENTITIES <"$WORK/identities.list"
	CC_BASE_PORT=$((9990 + PORT_OFFSET))
}

org_record() {
	local r
	for r in "${ORGS[@]}"; do
		[ "$(field 1 "$r")" = "$1" ] && {
			printf '%s' "$r"
			return 0
		}
	done
	die "unknown org $1"
}

# alive PID: the process exists and is not a zombie waiting to be reaped
# (its parent, an earlier run of this script, is gone).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

is_running() {
	local pidfile="$WORK/pids/$1.pid"
	[ -f "$pidfile" ] && alive "$(cat "$pidfile")"
}

# start_process NAME DIR CMD...: run CMD in DIR with DIR/env sourced, in the
# background, logging to logs/NAME.log and recording the PID in pids/NAME.pid.
# The command line is kept in DIR/cmd so `start NAME` can run it again.
start_process() {
	local name=$1 dir=$2
	shift 2
	is_running "$name" && die "$name is already running (pid $(cat "$WORK/pids/$name.pid"))"
	printf '%q ' "$@" >"$dir/cmd"
	(
		cd "$dir"
		set -a
		# shellcheck source=/dev/null
		. ./env
		set +a
		exec "$@"
	) >>"$WORK/logs/$name.log" 2>&1 &
	echo $! >"$WORK/pids/$name.pid"
	log "started $name (pid $!, log $WORK/logs/$name.log)"
}

stop_process() {
	local name=$1 pidfile="$WORK/pids/$1.pid" pid i
	[ -f "$pidfile" ] || return 0
	pid="$(cat "$pidfile")"
	if alive "$pid"; then
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < 40; i++)); do
			alive "$pid" || break
			sleep 0.25
		done
		if alive "$pid"; then
			kill -9 "$pid" 2>/dev/null || true
			for ((i = 0; i < 20; i++)); do
				alive "$pid" || break
				sleep 0.25
			done
		fi
		log "stopped $name (pid $pid)"
	fi
	rm -f "$pidfile"
}

locate_fabric() {
	local bindir
	bindir="$(cd "$(dirname "$(command -v peer)")" && pwd)"
	FABRIC_CFG_DIR="${FABRIC_CFG_DIR:-$bindir/../config}"
	CCAAS_BUILDER_DIR="${CCAAS_BUILDER_DIR:-$bindir/../builders/ccaas}"
	if [ ! -f "$FABRIC_CFG_DIR/core.yaml" ] || [ ! -f "$FABRIC_CFG_DIR/orderer.yaml" ]; then
		die "no core.yaml/orderer.yaml in $FABRIC_CFG_DIR; set FABRIC_CFG_DIR to the config/ dir of the Fabric release"
	fi
	[ -x "$CCAAS_BUILDER_DIR/bin/detect" ] ||
		die "no ccaas builder at $CCAAS_BUILDER_DIR/bin; set CCAAS_BUILDER_DIR to <fabric>/builders/ccaas"
	FABRIC_CFG_DIR="$(cd "$FABRIC_CFG_DIR" && pwd)"
	CCAAS_BUILDER_DIR="$(cd "$CCAAS_BUILDER_DIR" && pwd)"
}

# write_env FILE NAME=VALUE...: an env file that start_process sources, with
# every value shell-quoted (JSON and paths survive).
write_env() {
	local file=$1 kv
	shift
	: >"$file"
	for kv in "$@"; do
		printf '%s=%q\n' "${kv%%=*}" "${kv#*=}" >>"$file"
	done
}

crypto() { printf '%s' "$WORK/crypto-config/$1"; }
orderer_tls_ca() { crypto "ordererOrganizations/$ORDERER_DOMAIN/tlsca/tlsca.$ORDERER_DOMAIN-cert.pem"; }
peer_dir() { crypto "peerOrganizations/$1/peers/peer0.$1"; }
org_admin_msp() { crypto "peerOrganizations/$1/users/Admin@$1/msp"; }

# every port the network's nodes listen on, one per line
network_ports() {
	local r i
	for r in "${ORDERER_NODES[@]}"; do
		printf '%s\n%s\n%s\n' "$(field 2 "$r")" "$(field 3 "$r")" "$(field 4 "$r")"
	done
	for r in "${ORGS[@]}"; do
		for i in 4 5 6 7 8; do
			field "$i" "$r"
			echo
		done
	done
	for ((i = 0; i < 10; i++)); do
		echo $((CC_BASE_PORT + i))
	done
}

# ---------------------------------------------------------------- up

# write_crypto_config ORG_RECORD: a cryptogen config for one more peer
# organisation, shaped as those in crypto-config.yaml: NodeOUs, and node TLS
# certificates that name 127.0.0.1 and localhost, so every client reaches
# every node at 127.0.0.1 without a TLS host name override.
write_crypto_config() {
	local name
	name="$(field 2 "$1")"
	printf 'PeerOrgs:\n  - Name: %s\n    Domain: %s\n    EnableNodeOUs: true\n    Template:\n      Count: 1\n      SANS: [localhost, 127.0.0.1]\n    Users:\n      Count: 0\n' \
		"${name%MSP}" "$(field 3 "$1")"
}

generate_crypto() {
	log "generating crypto material (cryptogen)"
	cryptogen generate --config="$SCRIPT_DIR/crypto-config.yaml" --output="$WORK/crypto-config" >/dev/null
	# configtx.yaml with the node host names pointed at 127.0.0.1 and the
	# offset added to every node port. Paths stay relative to the work dir.
	awk -v host="$HOST" -v off="$PORT_OFFSET" -v timeout="${EIDGATE_BATCH_TIMEOUT:-}" -v maxmsg="${EIDGATE_BATCH_MAX_MESSAGES:-}" '
		timeout != "" && /^  BatchTimeout: / { sub(/: .*/, ": " timeout) }
		maxmsg != "" && /^    MaxMessageCount: / { sub(/: .*/, ": " maxmsg) }
		/^[ -]*Host: [a-z0-9.-]*\.eidgate\.example$/ { sub(/[a-z0-9.-]*\.eidgate\.example$/, host) }
		/^[ ]*Port: [0-9]+$/ { n = $NF; sub(/[0-9]+$/, n + off) }
		/^ *- [a-z0-9.-]*\.eidgate\.example:[0-9]+$/ {
			split($NF, hp, ":"); sub(/[a-z0-9.-]*\.eidgate\.example:[0-9]+$/, host ":" (hp[2] + off))
		}
		{ print }
	' "$SCRIPT_DIR/configtx.yaml" >"$WORK/configtx.yaml"
}

write_orderer_config() {
	local rec=$1 name port admin ops dir node
	name="$(field 1 "$rec")" port="$(field 2 "$rec")" admin="$(field 3 "$rec")" ops="$(field 4 "$rec")"
	dir="$WORK/nodes/$name"
	node="$(crypto "ordererOrganizations/$ORDERER_DOMAIN/orderers/$name.$ORDERER_DOMAIN")"
	mkdir -p "$dir" "$WORK/data/$name"
	cp "$FABRIC_CFG_DIR/orderer.yaml" "$dir/orderer.yaml"
	write_env "$dir/env" \
		"FABRIC_CFG_PATH=$dir" \
		"FABRIC_LOGGING_SPEC=INFO" \
		"FABRIC_LOGGING_FORMAT=%{time:2006-01-02 15:04:05.000 MST} %{level:.4s} [%{module}] %{shortfunc} -> %{message}" \
		"ORDERER_GENERAL_LISTENADDRESS=$HOST" \
		"ORDERER_GENERAL_LISTENPORT=$port" \
		"ORDERER_GENERAL_LOCALMSPID=OrdererMSP" \
		"ORDERER_GENERAL_LOCALMSPDIR=$node/msp" \
		"ORDERER_GENERAL_TLS_ENABLED=true" \
		"ORDERER_GENERAL_TLS_PRIVATEKEY=$node/tls/server.key" \
		"ORDERER_GENERAL_TLS_CERTIFICATE=$node/tls/server.crt" \
		"ORDERER_GENERAL_TLS_ROOTCAS=[$node/tls/ca.crt]" \
		"ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE=$node/tls/server.crt" \
		"ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY=$node/tls/server.key" \
		"ORDERER_GENERAL_CLUSTER_ROOTCAS=[$node/tls/ca.crt]" \
		"ORDERER_GENERAL_BOOTSTRAPMETHOD=none" \
		"ORDERER_CHANNELPARTICIPATION_ENABLED=true" \
		"ORDERER_FILELEDGER_LOCATION=$WORK/data/$name" \
		"ORDERER_CONSENSUS_WALDIR=$WORK/data/$name/etcdraft/wal" \
		"ORDERER_CONSENSUS_SNAPDIR=$WORK/data/$name/etcdraft/snapshot" \
		"ORDERER_ADMIN_LISTENADDRESS=$HOST:$admin" \
		"ORDERER_ADMIN_TLS_ENABLED=true" \
		"ORDERER_ADMIN_TLS_CERTIFICATE=$node/tls/server.crt" \
		"ORDERER_ADMIN_TLS_PRIVATEKEY=$node/tls/server.key" \
		"ORDERER_ADMIN_TLS_ROOTCAS=[$node/tls/ca.crt]" \
		"ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true" \
		"ORDERER_ADMIN_TLS_CLIENTROOTCAS=[$node/tls/ca.crt]" \
		"ORDERER_OPERATIONS_LISTENADDRESS=$HOST:$ops" \
		"ORDERER_METRICS_PROVIDER=prometheus"
}

# write_core_yaml DEST: Fabric's sample core.yaml with the externalBuilders
# list replaced by the ccaas builder of the local Fabric install, and
# vm.endpoint emptied: there is no Docker daemon, and a peer that names one
# answers 503 on its /healthz forever.
write_core_yaml() {
	awk -v path="$CCAAS_BUILDER_DIR" '
		skipping {
			if ($0 ~ /^[[:space:]]*$/ || $0 ~ /^     / || $0 ~ /^    -/) next
			skipping = 0
		}
		/^[^ #]/ { section = $1 }
		section == "vm:" && /^    endpoint:/ {
			print "    endpoint: \"\""
			vm = 1
			next
		}
		/^    externalBuilders:/ {
			print "    externalBuilders:"
			print "      - name: ccaas_builder"
			print "        path: " path
			print "        propagateEnvironment:"
			print "          - CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"
			print ""
			skipping = 1
			found = 1
			next
		}
		{ print }
		END { if (!found || !vm) exit 3 }
	' "$FABRIC_CFG_DIR/core.yaml" >"$1" || die "no chaincode.externalBuilders or vm.endpoint key in $FABRIC_CFG_DIR/core.yaml"
}

write_peer_config() {
	local rec=$1 key msp domain port ccport ops dir node
	key="$(field 1 "$rec")" msp="$(field 2 "$rec")" domain="$(field 3 "$rec")"
	port="$(field 4 "$rec")" ccport="$(field 5 "$rec")" ops="$(field 6 "$rec")"
	dir="$WORK/nodes/peer0.$key"
	node="$(peer_dir "$domain")"
	mkdir -p "$dir" "$WORK/data/peer0.$key"
	write_core_yaml "$dir/core.yaml"
	write_env "$dir/env" \
		"FABRIC_CFG_PATH=$dir" \
		"FABRIC_LOGGING_SPEC=INFO" \
		"FABRIC_LOGGING_FORMAT=%{time:2006-01-02 15:04:05.000 MST} %{level:.4s} [%{module}] %{shortfunc} -> %{message}" \
		"CORE_PEER_ID=peer0.$domain" \
		"CORE_PEER_ADDRESS=$HOST:$port" \
		"CORE_PEER_LISTENADDRESS=$HOST:$port" \
		"CORE_PEER_CHAINCODEADDRESS=$HOST:$ccport" \
		"CORE_PEER_CHAINCODELISTENADDRESS=$HOST:$ccport" \
		"CORE_PEER_GOSSIP_BOOTSTRAP=$HOST:$port" \
		"CORE_PEER_GOSSIP_EXTERNALENDPOINT=$HOST:$port" \
		"CORE_PEER_GOSSIP_RECONNECTINTERVAL=5s" \
		"CORE_PEER_LOCALMSPID=$msp" \
		"CORE_PEER_MSPCONFIGPATH=$node/msp" \
		"CORE_PEER_TLS_ENABLED=true" \
		"CORE_PEER_TLS_CERT_FILE=$node/tls/server.crt" \
		"CORE_PEER_TLS_KEY_FILE=$node/tls/server.key" \
		"CORE_PEER_TLS_ROOTCERT_FILE=$node/tls/ca.crt" \
		"CORE_PEER_GATEWAY_ENABLED=true" \
		"CORE_PEER_FILESYSTEMPATH=$WORK/data/peer0.$key" \
		"CORE_LEDGER_SNAPSHOTS_ROOTDIR=$WORK/data/peer0.$key/snapshots" \
		"CORE_OPERATIONS_LISTENADDRESS=$HOST:$ops" \
		"CORE_METRICS_PROVIDER=prometheus" \
		"CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG={\"peername\":\"peer0$key\"}"
}

# peer_cli ORG CMD...: run a peer CLI command as the org's Fabric admin
# against the org's peer. Every node's TLS certificate names 127.0.0.1, so
# no CORE_PEER_TLS_SERVERHOSTOVERRIDE is set: the peer CLI would apply it to
# every --peerAddresses of the command, not just this peer.
peer_cli() {
	local rec domain
	rec="$(org_record "$1")"
	domain="$(field 3 "$rec")"
	shift
	FABRIC_CFG_PATH="$WORK/nodes/peer0.$(field 1 "$rec")" \
		CORE_PEER_LOCALMSPID="$(field 2 "$rec")" \
		CORE_PEER_MSPCONFIGPATH="$(org_admin_msp "$domain")" \
		CORE_PEER_ADDRESS="$HOST:$(field 4 "$rec")" \
		CORE_PEER_TLS_ENABLED=true \
		FABRIC_LOGGING_SPEC="${PEER_CLI_LOGGING:-warning}" \
		CORE_PEER_TLS_ROOTCERT_FILE="$(peer_dir "$domain")/tls/ca.crt" \
		"$@"
}

ORDERER_FLAGS=()
set_orderer_flags() {
	ORDERER_FLAGS=(-o "$HOST:$(field 2 "${ORDERER_NODES[0]}")" --tls --cafile "$(orderer_tls_ca)")
}

start_ca() {
	local rec=$1 key domain caport ops dir ca
	key="$(field 1 "$rec")" domain="$(field 3 "$rec")" caport="$(field 7 "$rec")" ops="$(field 8 "$rec")"
	dir="$WORK/nodes/ca.$key"
	ca="$(crypto "peerOrganizations/$domain/ca")"
	mkdir -p "$dir"
	# The Fabric CA signs with the cryptogen CA's key and certificate, so the
	# identities it enrolls chain to the CA in the channel MSP and match its
	# NodeOUs (OU=client).
	write_env "$dir/env" \
		"FABRIC_CA_SERVER_HOME=$dir" \
		"FABRIC_CA_SERVER_OPERATIONS_LISTENADDRESS=$HOST:$ops"
	start_process "ca.$key" "$dir" fabric-ca-server start -b "$CA_ADMIN:$CA_ADMIN_SECRET" \
		--address "$HOST" --port "$caport" --ca.name "ca.$domain" \
		--ca.certfile "$ca/ca.$domain-cert.pem" --ca.keyfile "$ca/priv_sk"
}

# write_nodeou_config MSPDIR: the NodeOU config.yaml of a Fabric CA enrolled
# MSP folder, naming the CA certificate fabric-ca-client wrote. Without it
# the peer CLI refuses the folder on a channel whose MSPs use NodeOUs.
write_nodeou_config() {
	local msp=$1 cacert
	cacert="$(cd "$msp/cacerts" && find . -maxdepth 1 -name '*.pem' -printf '%f\n' | head -1)"
	[ -n "$cacert" ] || die "no CA certificate in $msp/cacerts"
	cat >"$msp/config.yaml" <<-EOF
		NodeOUs:
		  Enable: true
		  ClientOUIdentifier:
		    Certificate: cacerts/$cacert
		    OrganizationalUnitIdentifier: client
		  PeerOUIdentifier:
		    Certificate: cacerts/$cacert
		    OrganizationalUnitIdentifier: peer
		  AdminOUIdentifier:
		    Certificate: cacerts/$cacert
		    OrganizationalUnitIdentifier: admin
		  OrdererOUIdentifier:
		    Certificate: cacerts/$cacert
		    OrganizationalUnitIdentifier: orderer
	EOF
}

enroll_ca_admin() { # enroll_ca_admin ORG_RECORD
	local key caport registrar
	key="$(field 1 "$1")" caport="$(field 7 "$1")"
	wait_port "$caport"
	registrar="$WORK/identities/$key/ca-admin"
	[ -f "$registrar/msp/signcerts/cert.pem" ] && return 0
	retry 20 0.5 fabric-ca-client enroll -u "http://$CA_ADMIN:$CA_ADMIN_SECRET@$HOST:$caport" --home "$registrar" >/dev/null 2>&1 ||
		die "cannot enroll the CA admin of $key (see $WORK/logs/ca.$key.log)"
}

enroll_identity() { # enroll_identity IDENTITY_RECORD
	local key name attrs caport registrar home secret
	key="$(field 1 "$1")" name="$(field 2 "$1")" attrs="$(field 3 "$1")"
	caport="$(field 7 "$(org_record "$key")")"
	registrar="$WORK/identities/$key/ca-admin"
	home="$WORK/identities/$key/$name"
	[ -f "$home/msp/config.yaml" ] && return 0
	secret="$name-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
	log "registering $name in $key with $attrs"
	fabric-ca-client register --home "$registrar" -u "http://$HOST:$caport" \
		--id.name "$name" --id.secret "$secret" --id.type client --id.attrs "$attrs" >>"$WORK/logs/fabric-ca-client.log" 2>&1 ||
		die "cannot register $name in $key (see $WORK/logs/fabric-ca-client.log)"
	fabric-ca-client enroll --home "$home" -u "http://$name:$secret@$HOST:$caport" >>"$WORK/logs/fabric-ca-client.log" 2>&1 ||
		die "cannot enroll $name in $key (see $WORK/logs/fabric-ca-client.log)"
	write_nodeou_config "$home/msp"
}

write_gateway_profile() { # write_gateway_profile IDENTITY_RECORD
	local key name rec domain file
	key="$(field 1 "$1")" name="$(field 2 "$1")"
	rec="$(org_record "$key")"
	domain="$(field 3 "$rec")"
	mkdir -p "$WORK/gateway"
	file="$WORK/gateway/$key-$name.yaml"
	cat >"$file" <<-EOF
		# ledger.Profile for eidgate serve --ledger fabric --fabric-profile $file
		peer:
		  endpoint: $HOST:$(field 4 "$rec")
		  tlsCACert: $(peer_dir "$domain")/tls/ca.crt
		msp:
		  id: $(field 2 "$rec")
		  dir: $WORK/identities/$key/$name/msp
		channel: $CHANNEL
		chaincode: $CC_NAME
	EOF
}

osnadmin_join() { # osnadmin_join ORDERER_RECORD BLOCK
	local adm
	adm="$(crypto "ordererOrganizations/$ORDERER_DOMAIN/users/Admin@$ORDERER_DOMAIN/tls")"
	osnadmin channel join --channelID "$CHANNEL" --config-block "$2" \
		-o "$HOST:$(field 3 "$1")" --ca-file "$(orderer_tls_ca)" \
		--client-cert "$adm/client.crt" --client-key "$adm/client.key" >/dev/null
}

create_channel() {
	local profile=eidgate rec name block
	[ "$ORDERERS" = 1 ] && profile=eidgate-dev
	block="$WORK/channel-artifacts/$CHANNEL.block"
	mkdir -p "$WORK/channel-artifacts"
	log "creating the genesis block of channel $CHANNEL (profile $profile)"
	FABRIC_CFG_PATH="$WORK" configtxgen -profile "$profile" -outputBlock "$block" -channelID "$CHANNEL" 2>/dev/null
	for rec in "${ORDERER_NODES[@]}"; do
		name="$(field 1 "$rec")"
		log "joining $name to $CHANNEL (osnadmin)"
		retry 20 1 osnadmin_join "$rec" "$block" || die "osnadmin could not join $name to $CHANNEL"
	done
	for rec in "${ORGS[@]}"; do
		log "joining peer0.$(field 1 "$rec") to $CHANNEL"
		retry 20 1 peer_cli "$(field 1 "$rec")" peer channel join -b "$block" 2>/dev/null ||
			die "peer0.$(field 1 "$rec") could not join $CHANNEL"
	done
	# Anchor peers are part of the genesis block (configtx.yaml AnchorPeers),
	# so no anchor peer update transaction is needed.
}

start_peer() { # start_peer ORG_RECORD
	local key
	key="$(field 1 "$1")"
	write_peer_config "$1"
	start_process "peer0.$key" "$WORK/nodes/peer0.$key" peer node start
}

# gossip_converged: every peer knows every other peer of the channel
# (gossip_membership_total_peers_known on its operations endpoint). Until
# then the Fabric Gateway cannot find the other organisations' endorsers
# through discovery, and writes fail. A peer meets another organisation's
# anchor peer only once that peer has joined; it retries every
# peer.gossip.reconnectInterval (5s here, 25s in Fabric's sample core.yaml).
gossip_converged() {
	local rec known
	for rec in "${ORGS[@]}"; do
		known="$(http_get "$(field 6 "$rec")" /metrics |
			sed -n "s/^gossip_membership_total_peers_known{channel=\"$CHANNEL\"} \([0-9]*\)\r\{0,1\}\$/\1/p")"
		[ "${known:-0}" -ge $((${#ORGS[@]} - 1)) ] || return 1
	done
}

wait_gossip() {
	log "waiting until every peer knows the ${#ORGS[@]} peers of $CHANNEL (gossip)"
	retry 180 0.5 gossip_converged || die "the peers do not all know each other after 90s (gossip; see $WORK/logs)"
}

# wait_healthy: every node's operations /healthz answers 200.
wait_healthy() {
	local i
	for ((i = 0; i < 60; i++)); do
		check_health >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	check_health
}

cmd_up() {
	need peer orderer osnadmin configtxgen cryptogen fabric-ca-server fabric-ca-client od awk sed
	PORT_OFFSET="${EIDGATE_PORT_OFFSET:-0}"
	ORDERERS="${ORDERERS:-3}"
	{ [[ "$PORT_OFFSET" =~ ^[0-9]+$ ]] && [ "$PORT_OFFSET" -le 55000 ]; } ||
		die "EIDGATE_PORT_OFFSET must be a whole number from 0 to 55000, not $PORT_OFFSET"
	[ "$ORDERERS" = 3 ] || [ "$ORDERERS" = 1 ] || die "ORDERERS must be 3 or 1, not $ORDERERS"
	[ ! -e "$WORK" ] || die "$WORK exists; run '$0 down' first"
	locate_fabric

	local i rec
	ORGS=() ORDERER_NODES=() IDENTITIES=("${BASE_IDENTITIES[@]}")
	for ((i = 0; i < ${#BASE_ORGS[@]}; i++)); do
		rec="${BASE_ORGS[$i]}"
		ORGS+=("$(org_record_for "$i" "$(field 1 "$rec")" "$(field 2 "$rec")" "$(field 3 "$rec")")")
	done
	for ((i = 0; i < ORDERERS; i++)); do
		ORDERER_NODES+=("$(orderer_record_for "$i")")
	done
	CC_BASE_PORT=$((9990 + PORT_OFFSET))
	local busy=()
	while read -r i; do
		port_open "$HOST" "$i" && busy+=("$i")
	done < <(network_ports)
	[ "${#busy[@]}" -eq 0 ] || die "ports already in use on $HOST: ${busy[*]} (another network? set EIDGATE_PORT_OFFSET)"

	mkdir -p "$WORK"/{logs,pids,nodes,data,identities}
	trap 'log "up did not finish; logs in $WORK/logs; run $0 down to clean up"' EXIT
	write_env "$WORK/network.env" \
		"PORT_OFFSET=$PORT_OFFSET" "ORDERERS=$ORDERERS" \
		"FABRIC_CFG_DIR=$FABRIC_CFG_DIR" "CCAAS_BUILDER_DIR=$CCAAS_BUILDER_DIR"
	printf '%s\n' "${ORGS[@]}" >"$WORK/orgs"
	printf '%s\n' "${ORDERER_NODES[@]}" >"$WORK/orderers"
	printf '%s\n' "${IDENTITIES[@]}" >"$WORK/identities.list"
	log "work dir $WORK, port offset $PORT_OFFSET, Fabric config $FABRIC_CFG_DIR, ccaas builder $CCAAS_BUILDER_DIR"
	generate_crypto

	for rec in "${ORGS[@]}"; do
		start_ca "$rec"
	done
	for rec in "${ORDERER_NODES[@]}"; do
		write_orderer_config "$rec"
		start_process "$(field 1 "$rec")" "$WORK/nodes/$(field 1 "$rec")" orderer
	done
	for rec in "${ORGS[@]}"; do
		start_peer "$rec"
	done
	for rec in "${ORGS[@]}"; do
		enroll_ca_admin "$rec"
	done
	for rec in "${IDENTITIES[@]}"; do
		enroll_identity "$rec"
		write_gateway_profile "$rec"
	done
	for rec in "${ORDERER_NODES[@]}"; do
		wait_port "$(field 2 "$rec")"
		wait_port "$(field 3 "$rec")"
	done
	for rec in "${ORGS[@]}"; do
		wait_port "$(field 4 "$rec")"
	done

	create_channel
	wait_healthy >/dev/null || die "not every node is healthy: $0 health"
	wait_gossip
	trap - EXIT
	log "network is up: channel $CHANNEL on $ORDERERS orderer(s) and ${#ORGS[@]} peers, port offset $PORT_OFFSET"
	log "next: $0 deploy; gateway profiles in $WORK/gateway/"
}

# ---------------------------------------------------------------- deploy

build_binaries() {
	mkdir -p "$WORK/bin"
	if [ -z "${EIDGATE_BIN:-}" ]; then
		need go
		log "building eidgate"
		(cd "$REPO_ROOT" && go build -o "$WORK/bin/eidgate" ./cmd/eidgate)
		EIDGATE_BIN="$WORK/bin/eidgate"
	fi
	if [ -z "${EIDGATE_CHAINCODE_BIN:-}" ]; then
		need go
		[ -d "$REPO_ROOT/cmd/eidgate-chaincode" ] || die "no cmd/eidgate-chaincode in $REPO_ROOT; set EIDGATE_CHAINCODE_BIN"
		log "building eidgate-chaincode"
		(cd "$REPO_ROOT" && go build -o "$WORK/bin/eidgate-chaincode" ./cmd/eidgate-chaincode)
		EIDGATE_CHAINCODE_BIN="$WORK/bin/eidgate-chaincode"
	fi
}

# committed_definition [ORG]: "VERSION SEQUENCE" of the committed definition
# as ORG's peer (default platform) reports it; empty when none is.
committed_definition() {
	peer_cli "${1:-platform}" peer lifecycle chaincode querycommitted --channelID "$CHANNEL" --name "$CC_NAME" 2>/dev/null |
		sed -n 's/^Version: \(.*\), Sequence: \([0-9][0-9]*\),.*/\1 \2/p' || true
}

# approved_package ORG SEQUENCE: "VERSION PACKAGE_ID" that ORG approved at
# SEQUENCE; empty when it approved nothing there.
approved_package() {
	peer_cli "$1" peer lifecycle chaincode queryapproved --channelID "$CHANNEL" --name "$CC_NAME" \
		--sequence "$2" --output json 2>/dev/null |
		jq -r '"\(.version) \(.source.Type.LocalPackage.package_id // "")"' 2>/dev/null || true
}

# make_package SEQUENCE: package eidgate_<CC_VERSION> for the chaincode server
# of SEQUENCE; sets PKG, PACKAGE_ID and CC_ADDRESS.
make_package() {
	CC_ADDRESS="$HOST:$((CC_BASE_PORT + $1 % 10))"
	local label="${CC_NAME}_$CC_VERSION"
	PKG="$WORK/chaincode/$label-s$1.tar.gz"
	mkdir -p "$WORK/chaincode"
	PACKAGE_ID="$("$EIDGATE_BIN" chaincode package --address "$CC_ADDRESS" --label "$label" -o "$PKG")"
	local fabric_id
	fabric_id="$(peer_cli platform peer lifecycle chaincode calculatepackageid "$PKG")"
	[ "$fabric_id" = "$PACKAGE_ID" ] || die "package ID mismatch: eidgate says $PACKAGE_ID, peer says $fabric_id"
}

# ensure_chaincode_server SEQUENCE: the chaincode server for SEQUENCE runs
# with CHAINCODE_ID=PACKAGE_ID on CC_ADDRESS (started or restarted if not).
ensure_chaincode_server() {
	local name="chaincode-s$1" dir="$WORK/nodes/chaincode-s$1"
	if is_running "$name" && grep -qx "CHAINCODE_ID=$PACKAGE_ID" "$dir/env" 2>/dev/null; then
		log "$name already serves $PACKAGE_ID on $CC_ADDRESS"
		return 0
	fi
	stop_process "$name"
	mkdir -p "$dir"
	write_env "$dir/env" \
		"CHAINCODE_SERVER_ADDRESS=$CC_ADDRESS" \
		"CHAINCODE_ID=$PACKAGE_ID" \
		"CORE_CHAINCODE_ID_NAME=$PACKAGE_ID" \
		"CHAINCODE_TLS_DISABLED=true"
	start_process "$name" "$dir" "$EIDGATE_CHAINCODE_BIN"
	wait_port "${CC_ADDRESS##*:}"
}

installed() { # installed ORG: does the org's peer list PACKAGE_ID?
	local out
	out="$(peer_cli "$1" peer lifecycle chaincode queryinstalled 2>/dev/null)" || return 1
	grep -q "Package ID: $PACKAGE_ID," <<<"$out"
}

ensure_installed() { # ensure_installed ORG
	if installed "$1"; then
		log "peer0.$1 already has $PACKAGE_ID"
		return 0
	fi
	log "installing $PACKAGE_ID on peer0.$1"
	peer_cli "$1" peer lifecycle chaincode install "$PKG" 2>/dev/null || true
	installed "$1" || die "peer0.$1 does not list $PACKAGE_ID as installed (queryinstalled)"
}

# approve ORG SEQUENCE: ORG approves CC_VERSION with PACKAGE_ID at SEQUENCE,
# unless it already has (approving the same content twice is an error).
approve() {
	local msp
	msp="$(field 2 "$(org_record "$1")")"
	if [ "$(approved_package "$1" "$2")" = "$CC_VERSION $PACKAGE_ID" ]; then
		log "$msp already approved $CC_VERSION at sequence $2"
		return 0
	fi
	log "approving $CC_VERSION at sequence $2 for $msp"
	peer_cli "$1" peer lifecycle chaincode approveformyorg "${ORDERER_FLAGS[@]}" \
		--channelID "$CHANNEL" --name "$CC_NAME" --version "$CC_VERSION" \
		--package-id "$PACKAGE_ID" --sequence "$2" 2>&1 | grep -v '^\s*$' >&2 || true
	[ "$(approved_package "$1" "$2")" = "$CC_VERSION $PACKAGE_ID" ]
}

commit_ready() { # commit_ready SEQUENCE: every org approved (checkcommitreadiness)
	local out rec
	out="$(peer_cli platform peer lifecycle chaincode checkcommitreadiness --channelID "$CHANNEL" \
		--name "$CC_NAME" --version "$CC_VERSION" --sequence "$1" --output json 2>/dev/null)" || return 1
	for rec in "${ORGS[@]}"; do
		[ "$(jq -r --arg m "$(field 2 "$rec")" '.approvals[$m]' <<<"$out")" = true ] || return 1
	done
}

# commit SEQUENCE: commit the definition unless it already is, endorsed by
# every organisation's peer, each checked against its own TLS CA.
commit() {
	local peers=() rec
	[ "$(committed_definition)" = "$CC_VERSION $1" ] && return 0
	for rec in "${ORGS[@]}"; do
		peers+=(--peerAddresses "$HOST:$(field 4 "$rec")" --tlsRootCertFiles "$(peer_dir "$(field 3 "$rec")")/tls/ca.crt")
	done
	log "committing $CC_NAME $CC_VERSION at sequence $1"
	peer_cli platform peer lifecycle chaincode commit "${ORDERER_FLAGS[@]}" --channelID "$CHANNEL" \
		--name "$CC_NAME" --version "$CC_VERSION" --sequence "$1" "${peers[@]}" 2>&1 | grep -v '^\s*$' >&2 || true
	[ "$(committed_definition)" = "$CC_VERSION $1" ]
}

committed_everywhere() { # committed_everywhere SEQUENCE: every peer reports it
	local rec
	for rec in "${ORGS[@]}"; do
		[ "$(committed_definition "$(field 1 "$rec")")" = "$CC_VERSION $1" ] || return 1
	done
}

chaincode_answers() {
	peer_cli platform peer chaincode query -C "$CHANNEL" -n "$CC_NAME" \
		-c '{"Args":["org.hyperledger.fabric:GetMetadata"]}' >/dev/null 2>&1
}

cmd_deploy() {
	need peer jq od sed grep
	load_network
	local rec
	for rec in "${ORGS[@]}"; do
		is_running "peer0.$(field 1 "$rec")" || die "peer0.$(field 1 "$rec") is not running ($0 start peer0.$(field 1 "$rec"))"
	done
	build_binaries
	set_orderer_flags
	wait_gossip

	local committed version seq
	committed="$(committed_definition)"
	version="${committed% *}" seq="${committed#* }"
	CC_VERSION="${CC_VERSION:-${version:-1.0}}"
	if [ -n "$committed" ]; then
		make_package "$seq"
		if [ "$version" = "$CC_VERSION" ] && [ "$(approved_package platform "$seq")" = "$CC_VERSION $PACKAGE_ID" ]; then
			log "$CC_NAME $CC_VERSION is committed at sequence $seq with $PACKAGE_ID; nothing to change"
			ensure_chaincode_server "$seq"
			retry 30 1 chaincode_answers || die "the chaincode does not answer (see $WORK/logs/chaincode-s$seq.log)"
			return 0
		fi
	fi
	local next=$((${seq:-0} + 1))
	make_package "$next"
	log "deploying $PACKAGE_ID at sequence $next (committed: ${committed:-none})"
	# The new server runs beside the old one until every peer has the new
	# definition, so the chaincode keeps answering through an upgrade.
	ensure_chaincode_server "$next"
	for rec in "${ORGS[@]}"; do
		ensure_installed "$(field 1 "$rec")"
		retry 5 2 approve "$(field 1 "$rec")" "$next" || die "approveformyorg failed for $(field 2 "$rec")"
	done
	retry 20 1 commit_ready "$next" || die "the definition is not approved by every org (checkcommitreadiness)"
	retry 5 2 commit "$next" || die "the commit of sequence $next failed (querycommitted)"
	retry 30 1 committed_everywhere "$next" || die "not every peer reports sequence $next committed"
	retry 30 1 chaincode_answers || die "the chaincode does not answer (see $WORK/logs/chaincode-s$next.log)"
	local f name
	for f in "$WORK"/pids/chaincode-s*.pid; do
		[ -e "$f" ] || continue
		name="$(basename "$f" .pid)"
		[ "$name" = "chaincode-s$next" ] || stop_process "$name"
	done
	log "chaincode $CC_NAME $CC_VERSION committed at sequence $next, package $PACKAGE_ID"
	log "gateway: $EIDGATE_BIN serve --ledger fabric --fabric-profile $WORK/gateway/platform-agent.yaml --fabric-admin-profile $WORK/gateway/platform-platform-admin.yaml"
}

# ---------------------------------------------------------------- addorg

# channel_config ORG OUT.json: the channel's current configuration, fetched
# and decoded as ORG's admin.
channel_config() {
	local tmp
	tmp="$(mktemp -d "$WORK/tmp.XXXXXX")"
	peer_cli "$1" peer channel fetch config "$tmp/config_block.pb" "${ORDERER_FLAGS[@]}" -c "$CHANNEL" 2>/dev/null
	configtxlator proto_decode --input "$tmp/config_block.pb" --type common.Block --output "$tmp/config_block.json"
	jq '.data.data[0].payload.data.config' "$tmp/config_block.json" >"$2"
	rm -rf "$tmp"
}

# config_update ORIGINAL.json MODIFIED.json OUT.pb: the signed-envelope-ready
# channel configuration update from ORIGINAL to MODIFIED.
config_update() {
	local tmp
	tmp="$(mktemp -d "$WORK/tmp.XXXXXX")"
	configtxlator proto_encode --input "$1" --type common.Config --output "$tmp/original.pb"
	configtxlator proto_encode --input "$2" --type common.Config --output "$tmp/modified.pb"
	configtxlator compute_update --channel_id "$CHANNEL" --original "$tmp/original.pb" \
		--updated "$tmp/modified.pb" --output "$tmp/update.pb"
	configtxlator proto_decode --input "$tmp/update.pb" --type common.ConfigUpdate --output "$tmp/update.json"
	jq -n --arg ch "$CHANNEL" --slurpfile u "$tmp/update.json" \
		'{payload: {header: {channel_header: {channel_id: $ch, type: 2}}, data: {config_update: $u[0]}}}' >"$tmp/envelope.json"
	configtxlator proto_encode --input "$tmp/envelope.json" --type common.Envelope --output "$3"
	rm -rf "$tmp"
}

in_channel() { # in_channel MSPID: is the org a member of the channel's Application group?
	local cfg
	cfg="$(mktemp "$WORK/tmp.XXXXXX")"
	channel_config platform "$cfg"
	local rc=0
	jq -e --arg m "$1" '.channel_group.groups.Application.groups[$m] != null' "$cfg" >/dev/null || rc=1
	rm -f "$cfg"
	return "$rc"
}

has_anchor_peer() { # has_anchor_peer ORG_RECORD
	local cfg rc=0
	cfg="$(mktemp "$WORK/tmp.XXXXXX")"
	channel_config "$(field 1 "$1")" "$cfg"
	jq -e --arg m "$(field 2 "$1")" '.channel_group.groups.Application.groups[$m].values.AnchorPeers != null' "$cfg" >/dev/null || rc=1
	rm -f "$cfg"
	return "$rc"
}

peer_joined() { # peer_joined ORG
	peer_cli "$1" peer channel list 2>/dev/null | grep -qx "$CHANNEL"
}

cmd_addorg() {
	[ "$#" -eq 3 ] || die "usage: $0 addorg KEY MSPID DEPT (e.g. healthbureau HealthBureauMSP health-bureau)"
	local key=$1 msp=$2 dept=$3
	[[ "$key" =~ ^[a-z][a-z0-9]*$ ]] || die "KEY must be lower-case letters and digits, not $key"
	[[ "$msp" =~ ^[A-Za-z][A-Za-z0-9]*MSP$ ]] || die "MSPID must be letters and digits ending in MSP, not $msp"
	[[ "$dept" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "DEPT must be a department id (lower-case, digits, -), not $dept"
	need peer configtxgen configtxlator cryptogen fabric-ca-server fabric-ca-client jq
	load_network
	set_orderer_flags
	local rec="" r ident="$key|department|eidgate.role=department:ecert,eidgate.dept=$dept:ecert"
	for r in "${ORGS[@]}"; do
		[ "$(field 1 "$r")" = "$key" ] && rec="$r"
	done
	if [ -z "$rec" ]; then
		[ "${#ORGS[@]}" -lt "$MAX_ORGS" ] || die "this network's port layout has room for $MAX_ORGS organisations"
		rec="$(org_record_for "${#ORGS[@]}" "$key" "$msp" "$dept")"
		ORGS+=("$rec")
		printf '%s\n' "$rec" >>"$WORK/orgs"
		printf '%s\n' "$ident" >>"$WORK/identities.list"
	fi
	{ [ "$(field 2 "$rec")" = "$msp" ] && [ "$(field 9 "$rec")" = "$dept" ]; } ||
		die "$key is already a member as $(field 2 "$rec") / $(field 9 "$rec")"
	local domain orgdir
	domain="$(field 3 "$rec")"
	orgdir="$WORK/orgs.d/$key"
	mkdir -p "$orgdir"

	# 1. The new organisation: its MSP (cryptogen CA, NodeOUs), its Fabric CA
	#    and department identity, its peer, and its organisation definition.
	if [ ! -d "$(crypto "peerOrganizations/$domain")" ]; then
		log "[$msp] generating its MSP and node certificates"
		write_crypto_config "$rec" >"$orgdir/crypto-config.yaml"
		cryptogen generate --config="$orgdir/crypto-config.yaml" --output="$WORK/crypto-config" >/dev/null
	fi
	is_running "ca.$key" || start_ca "$rec"
	enroll_ca_admin "$rec"
	enroll_identity "$ident"
	write_gateway_profile "$ident"
	is_running "peer0.$key" || start_peer "$rec"
	wait_port "$(field 4 "$rec")"
	cat >"$orgdir/configtx.yaml" <<-EOF
		Organizations:
		  - Name: $msp
		    ID: $msp
		    MSPDir: $(crypto "peerOrganizations/$domain/msp")
		    Policies:
		      Readers: {Type: Signature, Rule: "OR('$msp.admin', '$msp.peer', '$msp.client')"}
		      Writers: {Type: Signature, Rule: "OR('$msp.admin', '$msp.client')"}
		      Admins: {Type: Signature, Rule: "OR('$msp.admin')"}
		      Endorsement: {Type: Signature, Rule: "OR('$msp.peer')"}
	EOF
	FABRIC_CFG_PATH="$orgdir" configtxgen -printOrg "$msp" >"$orgdir/org.json" 2>/dev/null

	# 2. Existing organisations: add it to the channel's Application group.
	#    The group's mod_policy is MAJORITY Admins: one admin signs, a second
	#    submits (peer channel update adds the submitter's signature).
	if in_channel "$msp"; then
		log "[$msp] already a member of channel $CHANNEL"
	else
		log "[existing orgs] adding $msp to channel $CHANNEL"
		channel_config platform "$orgdir/config.json"
		jq -s --arg m "$msp" '.[0] * {channel_group: {groups: {Application: {groups: {($m): .[1]}}}}}' \
			"$orgdir/config.json" "$orgdir/org.json" >"$orgdir/modified_config.json"
		config_update "$orgdir/config.json" "$orgdir/modified_config.json" "$orgdir/add_org_update.pb"
		local signers=()
		for r in "${ORGS[@]}"; do
			[ "$(field 1 "$r")" = "$key" ] || signers+=("$(field 1 "$r")")
		done
		local majority=$((${#signers[@]} / 2 + 1)) i
		for ((i = 1; i < majority; i++)); do
			log "[${signers[$i]}] signing the update"
			peer_cli "${signers[$i]}" peer channel signconfigtx -f "$orgdir/add_org_update.pb" 2>/dev/null
		done
		log "[${signers[0]}] signing and submitting the update"
		peer_cli "${signers[0]}" peer channel update -f "$orgdir/add_org_update.pb" -c "$CHANNEL" "${ORDERER_FLAGS[@]}" 2>/dev/null
		retry 20 0.5 in_channel "$msp" || die "$msp is not in the channel configuration after the update"
	fi

	# 3. The new organisation joins its peer from the channel's genesis block
	#    and sets its anchor peer (signed by its own admin only).
	if peer_joined "$key"; then
		log "[$msp] peer0.$key already joined $CHANNEL"
	else
		log "[$msp] joining peer0.$key to $CHANNEL"
		peer_cli "$key" peer channel fetch 0 "$orgdir/genesis.block" "${ORDERER_FLAGS[@]}" -c "$CHANNEL" 2>/dev/null
		retry 10 1 peer_cli "$key" peer channel join -b "$orgdir/genesis.block" 2>/dev/null || die "peer0.$key could not join $CHANNEL"
	fi
	retry 60 0.5 in_channel_as "$key" || die "peer0.$key has not caught up with the channel configuration"
	if has_anchor_peer "$rec"; then
		log "[$msp] anchor peer already set"
	else
		log "[$msp] setting its anchor peer $HOST:$(field 4 "$rec")"
		channel_config "$key" "$orgdir/anchor_config.json"
		jq --arg m "$msp" --arg h "$HOST" --argjson p "$(field 4 "$rec")" \
			'.channel_group.groups.Application.groups[$m].values.AnchorPeers = {mod_policy: "Admins", value: {anchor_peers: [{host: $h, port: $p}]}, version: "0"}' \
			"$orgdir/anchor_config.json" >"$orgdir/anchor_modified.json"
		config_update "$orgdir/anchor_config.json" "$orgdir/anchor_modified.json" "$orgdir/anchor_update.pb"
		peer_cli "$key" peer channel update -f "$orgdir/anchor_update.pb" -c "$CHANNEL" "${ORDERER_FLAGS[@]}" 2>/dev/null
		retry 20 0.5 has_anchor_peer "$rec" || die "the anchor peer of $msp is not in the channel configuration"
	fi

	# 4. Chaincode: the new organisation installs the committed package and
	#    approves the committed definition; no new commit is needed.
	local committed
	committed="$(committed_definition)"
	if [ -n "$committed" ]; then
		build_binaries
		local version="${committed% *}" seq="${committed#* }"
		CC_VERSION="$version"
		make_package "$seq"
		[ "$(approved_package platform "$seq")" = "$CC_VERSION $PACKAGE_ID" ] ||
			die "the committed package of sequence $seq is not the one this script builds"
		ensure_installed "$key"
		retry 5 2 approve "$key" "$seq" || die "approveformyorg failed for $msp"
		retry 30 1 committed_everywhere "$seq" || die "peer0.$key does not report sequence $seq"
	fi
	wait_healthy >/dev/null || die "not every node is healthy: $0 health"
	wait_gossip
	log "$msp joined $CHANNEL; department identity profile: $WORK/gateway/$key-department.yaml"
}

in_channel_as() { # in_channel_as ORG: ORG's own peer serves the channel config
	peer_cli "$1" peer channel getinfo -c "$CHANNEL" >/dev/null 2>&1
}

# ---------------------------------------------------------------- health, status, stop, start, down

# check_health: prints each node's operations /healthz status; fails
# unless every running node answers 200.
check_health() {
	local rec name code bad=0
	for rec in "${ORDERER_NODES[@]}"; do
		name="$(field 1 "$rec")" code="$(http_status "$(field 4 "$rec")" /healthz)"
		printf '%-22s %s\n' "$name" "$code"
		[ "$code" = 200 ] || bad=1
	done
	for rec in "${ORGS[@]}"; do
		name="peer0.$(field 1 "$rec")" code="$(http_status "$(field 6 "$rec")" /healthz)"
		printf '%-22s %s\n' "$name" "$code"
		[ "$code" = 200 ] || bad=1
		name="ca.$(field 1 "$rec")" code="$(http_status "$(field 8 "$rec")" /healthz)"
		printf '%-22s %s\n' "$name" "$code"
		[ "$code" = 200 ] || bad=1
	done
	return "$bad"
}

cmd_health() {
	load_network
	check_health
}

cmd_status() {
	[ -d "$WORK/pids" ] || {
		echo "no network at $WORK"
		return 0
	}
	load_network
	echo "work dir $WORK, port offset $PORT_OFFSET, ${#ORGS[@]} organisations, $ORDERERS orderer(s)"
	local f name
	for f in "$WORK"/pids/*.pid; do
		[ -e "$f" ] || continue
		name="$(basename "$f" .pid)"
		if is_running "$name"; then
			echo "$name running (pid $(cat "$f"))"
		else
			echo "$name stopped"
		fi
	done
}

cmd_stop() {
	[ "$#" -eq 1 ] || die "usage: $0 stop NODE"
	load_network
	[ -f "$WORK/nodes/$1/cmd" ] || die "no node $1"
	stop_process "$1"
}

cmd_start() {
	[ "$#" -eq 1 ] || die "usage: $0 start NODE"
	load_network
	local dir="$WORK/nodes/$1"
	[ -f "$dir/cmd" ] || die "no node $1"
	is_running "$1" && {
		log "$1 is already running"
		return 0
	}
	local args
	eval "args=($(cat "$dir/cmd"))"
	start_process "$1" "$dir" "${args[@]}"
}

cmd_down() {
	if [ -d "$WORK/pids" ]; then
		local name f
		# Chaincode servers and peers first, then orderers, then CAs.
		for f in "$WORK"/pids/chaincode-*.pid "$WORK"/pids/peer0.*.pid "$WORK"/pids/orderer*.pid "$WORK"/pids/*.pid; do
			[ -e "$f" ] || continue
			name="$(basename "$f" .pid)"
			stop_process "$name"
		done
	fi
	if [ -f "$WORK/network.env" ]; then
		load_network
		local busy=() p
		while read -r p; do
			port_open "$HOST" "$p" && busy+=("$p")
		done < <(network_ports)
		[ "${#busy[@]}" -eq 0 ] || log "warning: something still listens on $HOST: ${busy[*]}"
	fi
	if [ -e "$WORK" ]; then
		rm -rf "$WORK"
		log "removed $WORK"
	fi
}

case "${1:-}" in
up) cmd_up ;;
deploy) cmd_deploy ;;
addorg)
	shift
	cmd_addorg "$@"
	;;
health) cmd_health ;;
ports)
	load_network
	network_ports
	;;
core-yaml)
	[ "$#" -eq 2 ] || die "usage: $0 core-yaml BUILDER_DIR (e.g. /opt/hyperledger/ccaas_builder)"
	need peer awk
	locate_fabric
	CCAAS_BUILDER_DIR="$2"
	write_core_yaml /dev/stdout
	;;
status) cmd_status ;;
stop)
	shift
	cmd_stop "$@"
	;;
start)
	shift
	cmd_start "$@"
	;;
down) cmd_down ;;
*) usage ;;
esac
