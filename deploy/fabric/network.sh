#!/usr/bin/env bash
# Run the eidgate Fabric 2.5 network natively on 127.0.0.1, without Docker.
#
#   network.sh up       crypto, Fabric CAs, orderers, peers, channel "eidgate"
#   network.sh deploy   package eidgate-chaincode as CCaaS, start it, run the
#                       chaincode lifecycle (a new sequence on every deploy)
#   network.sh status   list the processes this script started
#   network.sh down     stop them and remove the work dir
#
# Needs on PATH, from the Fabric 2.5 and Fabric CA 1.5 release archives
# (install-fabric.sh binary): peer orderer osnadmin configtxgen cryptogen
# fabric-ca-server fabric-ca-client. Their sample config dir (core.yaml,
# orderer.yaml) and the ccaas builder are found next to the binaries
# (<fabric>/config, <fabric>/builders/ccaas) unless set below.
#
# Environment:
#   EIDGATE_NETWORK_DIR  work dir (default: deploy/fabric/.network)
#   ORDERERS             3 (Raft, profile eidgate) or 1 (dev, profile eidgate-dev)
#   FABRIC_CFG_DIR       dir holding Fabric's sample core.yaml and orderer.yaml
#   CCAAS_BUILDER_DIR    dir holding the ccaas builder's bin/
#   EIDGATE_BIN, EIDGATE_CHAINCODE_BIN
#                        binaries to use; built with `go build` when unset
#   CC_VERSION           chaincode definition version (default 1.0); the
#                        package label is eidgate_<CC_VERSION>
#
# Everything lives under the work dir: crypto-config/, identities/ (client
# MSPs with eidgate.role/eidgate.dept attributes), nodes/<node>/ (config and
# env), data/, logs/, pids/, and gateway/*.yaml connection profiles for
# `eidgate serve --ledger fabric --fabric-profile …`.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
WORK="${EIDGATE_NETWORK_DIR:-$SCRIPT_DIR/.network}"
ORDERERS="${ORDERERS:-3}"
CHANNEL=eidgate
CC_NAME=eidgate
CC_VERSION="${CC_VERSION:-1.0}"
CC_ADDRESS=127.0.0.1:9999
HOST=127.0.0.1

ORDERER_DOMAIN=orderer.eidgate.example
# org key | MSP ID | domain | peer port | chaincode port | operations port | CA port | CA operations port
PEER_ORGS=(
	"platform|PlatformMSP|platform.eidgate.example|7051|7052|9446|7054|9454"
	"edubureau|EduBureauMSP|edubureau.eidgate.example|8051|8052|9447|8054|9455"
	"civilaffairs|CivilAffairsMSP|civilaffairs.eidgate.example|9051|9052|9448|9054|9456"
)
# orderer | general port | admin port | operations port
ORDERER_NODES=(
	"orderer0|7050|7053|9443"
	"orderer1|8050|8053|9444"
	"orderer2|9050|9053|9445"
)
# org key | identity | attributes (all land in the enrollment certificate)
CLIENT_IDENTITIES=(
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
	sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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
	retry 60 1 port_open "$1" "$2" || die "nothing listens on $1:$2 after 60s (see $WORK/logs)"
}

field() { # field INDEX RECORD: the INDEX-th (1-based) |-separated field
	local IFS='|'
	# shellcheck disable=SC2206 # records hold no glob characters
	local parts=($2)
	printf '%s' "${parts[$(($1 - 1))]}"
}

org_record() {
	local r
	for r in "${PEER_ORGS[@]}"; do
		[ "$(field 1 "$r")" = "$1" ] && {
			printf '%s' "$r"
			return 0
		}
	done
	die "unknown org $1"
}

orderer_nodes() { printf '%s\n' "${ORDERER_NODES[@]:0:$ORDERERS}"; }

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
start_process() {
	local name=$1 dir=$2
	shift 2
	is_running "$name" && die "$name is already running (pid $(cat "$WORK/pids/$name.pid"))"
	(
		cd "$dir"
		set -a
		# shellcheck source=/dev/null
		. ./env
		set +a
		exec "$@"
	) >"$WORK/logs/$name.log" 2>&1 &
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

# ---------------------------------------------------------------- up

generate_crypto() {
	log "generating crypto material (cryptogen)"
	cryptogen generate --config="$SCRIPT_DIR/crypto-config.yaml" --output="$WORK/crypto-config" >/dev/null
	# configtx.yaml with the node host names pointed at 127.0.0.1; ports are
	# already distinct per node. Paths stay relative to the work dir.
	sed -e "s/^\([ -]*Host: \)[a-z0-9.-]*\.eidgate\.example\$/\1$HOST/" \
		-e "s/^\( *- \)[a-z0-9.-]*\.eidgate\.example:\([0-9]*\)\$/\1$HOST:\2/" \
		"$SCRIPT_DIR/configtx.yaml" >"$WORK/configtx.yaml"
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
# list replaced by the ccaas builder of the local Fabric install.
write_core_yaml() {
	awk -v path="$CCAAS_BUILDER_DIR" '
		skipping {
			if ($0 ~ /^[[:space:]]*$/ || $0 ~ /^     / || $0 ~ /^    -/) next
			skipping = 0
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
		END { if (!found) exit 3 }
	' "$FABRIC_CFG_DIR/core.yaml" >"$1" || die "no chaincode.externalBuilders key in $FABRIC_CFG_DIR/core.yaml"
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
		"CORE_PEER_ID=peer0.$domain" \
		"CORE_PEER_ADDRESS=$HOST:$port" \
		"CORE_PEER_LISTENADDRESS=$HOST:$port" \
		"CORE_PEER_CHAINCODEADDRESS=$HOST:$ccport" \
		"CORE_PEER_CHAINCODELISTENADDRESS=$HOST:$ccport" \
		"CORE_PEER_GOSSIP_BOOTSTRAP=$HOST:$port" \
		"CORE_PEER_GOSSIP_EXTERNALENDPOINT=$HOST:$port" \
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
# against the org's peer.
peer_cli() {
	local rec domain
	rec="$(org_record "$1")"
	domain="$(field 3 "$rec")"
	shift
	FABRIC_CFG_PATH="$WORK/nodes/peer0.$(field 1 "$rec")" \
		CORE_PEER_LOCALMSPID="$(field 2 "$rec")" \
		CORE_PEER_MSPCONFIGPATH="$(crypto "peerOrganizations/$domain/users/Admin@$domain/msp")" \
		CORE_PEER_ADDRESS="$HOST:$(field 4 "$rec")" \
		CORE_PEER_TLS_ENABLED=true \
		CORE_PEER_TLS_ROOTCERT_FILE="$(peer_dir "$domain")/tls/ca.crt" \
		CORE_PEER_TLS_SERVERHOSTOVERRIDE="peer0.$domain" \
		"$@"
}

ORDERER_FLAGS=()
set_orderer_flags() {
	ORDERER_FLAGS=(-o "$HOST:7050" --ordererTLSHostnameOverride "orderer0.$ORDERER_DOMAIN" --tls --cafile "$(orderer_tls_ca)")
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

enroll_identities() {
	local rec key caport registrar id name attrs secret home
	for rec in "${PEER_ORGS[@]}"; do
		key="$(field 1 "$rec")" caport="$(field 7 "$rec")"
		wait_port "$HOST" "$caport"
		registrar="$WORK/identities/$key/ca-admin"
		retry 10 1 fabric-ca-client enroll -u "http://$CA_ADMIN:$CA_ADMIN_SECRET@$HOST:$caport" --home "$registrar" >/dev/null 2>&1 ||
			die "cannot enroll the CA admin of $key (see $WORK/logs/ca.$key.log)"
	done
	for id in "${CLIENT_IDENTITIES[@]}"; do
		key="$(field 1 "$id")" name="$(field 2 "$id")" attrs="$(field 3 "$id")"
		caport="$(field 7 "$(org_record "$key")")"
		registrar="$WORK/identities/$key/ca-admin"
		home="$WORK/identities/$key/$name"
		secret="$name-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
		log "registering $name in $key with $attrs"
		fabric-ca-client register --home "$registrar" -u "http://$HOST:$caport" \
			--id.name "$name" --id.secret "$secret" --id.type client --id.attrs "$attrs" >/dev/null
		fabric-ca-client enroll --home "$home" -u "http://$name:$secret@$HOST:$caport" >/dev/null
	done
}

write_gateway_profiles() {
	local id key name rec domain dir
	dir="$WORK/gateway"
	mkdir -p "$dir"
	for id in "${CLIENT_IDENTITIES[@]}"; do
		key="$(field 1 "$id")" name="$(field 2 "$id")"
		rec="$(org_record "$key")"
		domain="$(field 3 "$rec")"
		cat >"$dir/$key-$name.yaml" <<-EOF
			# ledger.Profile for eidgate serve --ledger fabric --fabric-profile $dir/$key-$name.yaml
			peer:
			  endpoint: $HOST:$(field 4 "$rec")
			  hostOverride: peer0.$domain
			  tlsCACert: $(peer_dir "$domain")/tls/ca.crt
			msp:
			  id: $(field 2 "$rec")
			  dir: $WORK/identities/$key/$name/msp
			channel: $CHANNEL
			chaincode: $CC_NAME
		EOF
	done
}

create_channel() {
	local profile=eidgate rec name admin block
	[ "$ORDERERS" = 1 ] && profile=eidgate-dev
	block="$WORK/channel-artifacts/$CHANNEL.block"
	mkdir -p "$WORK/channel-artifacts"
	log "creating the genesis block of channel $CHANNEL (profile $profile)"
	FABRIC_CFG_PATH="$WORK" configtxgen -profile "$profile" -outputBlock "$block" -channelID "$CHANNEL"
	local adm
	adm="$(crypto "ordererOrganizations/$ORDERER_DOMAIN/users/Admin@$ORDERER_DOMAIN/tls")"
	while read -r rec; do
		name="$(field 1 "$rec")" admin="$(field 3 "$rec")"
		log "joining $name to $CHANNEL (osnadmin)"
		retry 10 2 osnadmin channel join --channelID "$CHANNEL" --config-block "$block" \
			-o "$HOST:$admin" --ca-file "$(orderer_tls_ca)" \
			--client-cert "$adm/client.crt" --client-key "$adm/client.key" ||
			die "osnadmin could not join $name to $CHANNEL"
	done < <(orderer_nodes)
	for rec in "${PEER_ORGS[@]}"; do
		log "joining peer0.$(field 1 "$rec") to $CHANNEL"
		retry 10 2 peer_cli "$(field 1 "$rec")" peer channel join -b "$block" ||
			die "peer0.$(field 1 "$rec") could not join $CHANNEL"
	done
	# Anchor peers are part of the genesis block (configtx.yaml AnchorPeers),
	# so no anchor peer update transaction is needed.
}

cmd_up() {
	need peer orderer osnadmin configtxgen cryptogen fabric-ca-server fabric-ca-client od awk sed
	[ "$ORDERERS" = 3 ] || [ "$ORDERERS" = 1 ] || die "ORDERERS must be 3 or 1, not $ORDERERS"
	[ ! -e "$WORK" ] || die "$WORK exists; run '$0 down' first"
	locate_fabric
	mkdir -p "$WORK"/{logs,pids,nodes,data,identities}
	trap 'log "up did not finish; logs in $WORK/logs; run $0 down to clean up"' EXIT
	log "work dir $WORK, Fabric config $FABRIC_CFG_DIR, ccaas builder $CCAAS_BUILDER_DIR"
	generate_crypto

	local rec
	for rec in "${PEER_ORGS[@]}"; do
		start_ca "$rec"
	done
	enroll_identities

	while read -r rec; do
		write_orderer_config "$rec"
		start_process "$(field 1 "$rec")" "$WORK/nodes/$(field 1 "$rec")" orderer
	done < <(orderer_nodes)
	for rec in "${PEER_ORGS[@]}"; do
		write_peer_config "$rec"
		start_process "peer0.$(field 1 "$rec")" "$WORK/nodes/peer0.$(field 1 "$rec")" peer node start
	done
	while read -r rec; do
		wait_port "$HOST" "$(field 2 "$rec")"
		wait_port "$HOST" "$(field 3 "$rec")"
	done < <(orderer_nodes)
	for rec in "${PEER_ORGS[@]}"; do
		wait_port "$HOST" "$(field 4 "$rec")"
	done

	create_channel
	write_gateway_profiles
	trap - EXIT
	log "network is up: channel $CHANNEL on $ORDERERS orderer(s) and ${#PEER_ORGS[@]} peers"
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

committed_sequence() {
	peer_cli platform peer lifecycle chaincode querycommitted --channelID "$CHANNEL" --name "$CC_NAME" 2>/dev/null |
		sed -n 's/^Version: .*, Sequence: \([0-9][0-9]*\),.*/\1/p'
}

sequence_committed() { [ "$(committed_sequence)" = "$SEQUENCE" ]; }

installed() { # installed ORG: does the org's peer list PACKAGE_ID?
	local out
	out="$(peer_cli "$1" peer lifecycle chaincode queryinstalled)" || return 1
	grep -q "Package ID: $PACKAGE_ID," <<<"$out"
}

commit_ready() {
	local out rec
	out="$(peer_cli platform peer lifecycle chaincode checkcommitreadiness --channelID "$CHANNEL" \
		--name "$CC_NAME" --version "$CC_VERSION" --sequence "$SEQUENCE" --output json)" || return 1
	for rec in "${PEER_ORGS[@]}"; do
		grep -q "\"$(field 2 "$rec")\": true" <<<"$out" || return 1
	done
}

chaincode_answers() {
	peer_cli platform peer chaincode query -C "$CHANNEL" -n "$CC_NAME" \
		-c '{"Args":["org.hyperledger.fabric:GetMetadata"]}' >/dev/null 2>&1
}

cmd_deploy() {
	need peer od sed grep
	[ -d "$WORK" ] || die "no network at $WORK; run '$0 up' first"
	local rec
	for rec in "${PEER_ORGS[@]}"; do
		is_running "peer0.$(field 1 "$rec")" || die "peer0.$(field 1 "$rec") is not running; run '$0 down' and '$0 up'"
	done
	build_binaries
	set_orderer_flags

	local committed
	committed="$(committed_sequence || true)"
	SEQUENCE=$((${committed:-0} + 1))
	local label="${CC_NAME}_$CC_VERSION" pkg="$WORK/chaincode/$CC_NAME.tar.gz"
	mkdir -p "$WORK/chaincode"
	log "packaging $label for $CC_ADDRESS (sequence $SEQUENCE; committed: ${committed:-none})"
	PACKAGE_ID="$("$EIDGATE_BIN" chaincode package --address "$CC_ADDRESS" --label "$label" -o "$pkg")"
	local fabric_id
	fabric_id="$(peer_cli platform peer lifecycle chaincode calculatepackageid "$pkg")"
	[ "$fabric_id" = "$PACKAGE_ID" ] || die "package ID mismatch: eidgate says $PACKAGE_ID, peer says $fabric_id"

	# One chaincode server serves every peer of this dev network; a new
	# package ID means a new CHAINCODE_ID, so the old server is replaced.
	local ccdir="$WORK/nodes/chaincode"
	mkdir -p "$ccdir"
	stop_process chaincode
	write_env "$ccdir/env" \
		"CHAINCODE_SERVER_ADDRESS=$CC_ADDRESS" \
		"CHAINCODE_ID=$PACKAGE_ID" \
		"CORE_CHAINCODE_ID_NAME=$PACKAGE_ID" \
		"CHAINCODE_TLS_DISABLED=true"
	start_process chaincode "$ccdir" "$EIDGATE_CHAINCODE_BIN"
	wait_port "$HOST" "${CC_ADDRESS##*:}"

	for rec in "${PEER_ORGS[@]}"; do
		local key
		key="$(field 1 "$rec")"
		if installed "$key"; then
			log "peer0.$key already has $PACKAGE_ID"
		else
			log "installing on peer0.$key"
			peer_cli "$key" peer lifecycle chaincode install "$pkg"
		fi
		installed "$key" || die "peer0.$key does not list $PACKAGE_ID as installed (queryinstalled)"
		log "approving for $(field 2 "$rec")"
		retry 5 3 peer_cli "$key" peer lifecycle chaincode approveformyorg "${ORDERER_FLAGS[@]}" \
			--channelID "$CHANNEL" --name "$CC_NAME" --version "$CC_VERSION" \
			--package-id "$PACKAGE_ID" --sequence "$SEQUENCE" ||
			die "approveformyorg failed for $(field 2 "$rec")"
	done
	retry 10 2 commit_ready || die "the definition is not approved by every org (checkcommitreadiness)"

	local peers=() domain
	for rec in "${PEER_ORGS[@]}"; do
		domain="$(field 3 "$rec")"
		peers+=(--peerAddresses "$HOST:$(field 4 "$rec")" --tlsRootCertFiles "$(peer_dir "$domain")/tls/ca.crt")
	done
	log "committing $CC_NAME sequence $SEQUENCE"
	peer_cli platform peer lifecycle chaincode commit "${ORDERER_FLAGS[@]}" --channelID "$CHANNEL" \
		--name "$CC_NAME" --version "$CC_VERSION" --sequence "$SEQUENCE" "${peers[@]}"
	retry 10 2 sequence_committed || die "querycommitted does not show sequence $SEQUENCE"
	retry 15 2 chaincode_answers || die "the chaincode does not answer (see $WORK/logs/chaincode.log)"
	log "chaincode $CC_NAME $CC_VERSION committed at sequence $SEQUENCE, package $PACKAGE_ID"
	log "gateway: $EIDGATE_BIN serve --ledger fabric --fabric-profile $WORK/gateway/platform-agent.yaml"
}

# ---------------------------------------------------------------- status, down

cmd_status() {
	[ -d "$WORK/pids" ] || {
		echo "no network at $WORK"
		return 0
	}
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

cmd_down() {
	if [ -d "$WORK/pids" ]; then
		local name
		# Reverse start order: chaincode, peers, orderers, CAs.
		stop_process chaincode
		for name in peer0.civilaffairs peer0.edubureau peer0.platform orderer2 orderer1 orderer0 ca.civilaffairs ca.edubureau ca.platform; do
			stop_process "$name"
		done
		local f
		for f in "$WORK"/pids/*.pid; do
			[ -e "$f" ] && stop_process "$(basename "$f" .pid)"
		done
	fi
	if [ -e "$WORK" ]; then
		rm -rf "$WORK"
		log "removed $WORK"
	fi
}

case "${1:-}" in
up) cmd_up ;;
deploy) cmd_deploy ;;
status) cmd_status ;;
down) cmd_down ;;
*) usage ;;
esac
