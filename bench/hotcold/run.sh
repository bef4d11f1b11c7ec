#!/usr/bin/env bash
# Hot/cold workload (hotcold_bench) in three modes, as root:
#   1. plain: no limit, no swap;
#   2. kernel zram: a memory cgroup limited to LIMIT_PCT% of the data, swapping to an LZ4
#      zram device; footprint = peak of (cgroup usage + zram mem_used_total), sampled, since
#      the zram pool is not charged to the cgroup;
#   3. uzswap with UZSWAP_LIMIT = the footprint measured in 2 (or FALLBACK_PCT% of the
#      plain footprint when zram or a memory cgroup is not available).
# Footprint of 1 and 3 is the peak of sampled VmRSS and the process's own VmHWM (uzswap's
# pool lives in the process, so its RSS includes it). Checksums must match in all modes.
# Usage: bench/hotcold/run.sh [build-dir]   (env: MIB, OPS, LIMIT_PCT, FALLBACK_PCT)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
BIN=$BUILD/bench/hotcold/hotcold_bench
LIB=$PWD/$BUILD/preload/libuzswap.so
MIB=${MIB:-1024}
OPS=${OPS:-10000000}
LIMIT_PCT=${LIMIT_PCT:-25}
FALLBACK_PCT=${FALLBACK_PCT:-65}
ARGS=(--mib "$MIB" --ops "$OPS")
TMP=$(mktemp -d)
ZDEV="" CG="" SWAPON=0 ZRAM_BEFORE=""

[[ -x $BIN && -f $LIB ]] || { echo "build first: $BIN and $LIB are needed"; exit 1; }
[[ $(id -u) == 0 ]] || { echo "run as root (zram, swapon and cgroups need it)"; exit 1; }

teardown() {
  if [[ -n $ZDEV ]]; then
    ((SWAPON)) && swapoff "$ZDEV" 2>/dev/null
    # reset through sysfs (zramctl --reset also removes the device); remove it only if
    # zramctl --find had to create it
    echo 1 >"/sys/block/${ZDEV##*/}/reset" 2>/dev/null
    [[ " $ZRAM_BEFORE " == *" ${ZDEV##*/} "* ]] ||
      echo "${ZDEV##*/zram}" >/sys/class/zram-control/hot_remove 2>/dev/null
  fi
  [[ -n $CG && -d $CG ]] && rmdir "$CG" 2>/dev/null
  ZDEV="" CG="" SWAPON=0
}
trap 'teardown; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" "$2"; }
mib_of() { echo $(($1 / 1048576)); }

# Runs "$@" in the background, samples its VmRSS every 0.1 s into $TMP/peak_rss (bytes).
# Extra sampler: $SAMPLE_EXTRA names a function printing bytes to add to a sample (zram).
run_sampled() {
  local out=$1; shift
  "$@" >"$out" 2>"$out.err" &
  local pid=$! peak=0 rss sum n=0
  while kill -0 "$pid" 2>/dev/null; do
    (( n++ % 10 == 9 )) && [[ -n ${SAMPLE_UZ:-} ]] && uz_sample "$pid"
    rss=$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$pid/status" 2>/dev/null)
    sum=${rss:-0}
    [[ -n ${SAMPLE_EXTRA:-} ]] && sum=$($SAMPLE_EXTRA)
    ((sum > peak)) && peak=$sum
    sleep 0.1
  done
  wait "$pid"
  local rc=$?
  echo "$peak" >"$TMP/peak_sample"
  return $rc
}

# --- 1. plain ---------------------------------------------------------------------------
echo "== plain: ${MIB} MiB, ${OPS} ops"
run_sampled "$TMP/plain" "$BIN" "${ARGS[@]}" || { echo "plain run failed"; cat "$TMP/plain.err"; exit 1; }
cat "$TMP/plain"
PLAIN_OPS=$(field ops_per_s "$TMP/plain")
PLAIN_SUM=$(field checksum "$TMP/plain")-$(field final_hash "$TMP/plain")
PLAIN_FP=$(( $(field vm_hwm_kib "$TMP/plain") * 1024 ))

# --- 2. kernel zram under a memory cgroup -----------------------------------------------
DATA=$((MIB * 1048576))
CG_LIMIT=$((DATA * LIMIT_PCT / 100))
ZRAM_NOTE=""
setup_cgroup() {
  if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null &&
     grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
    CG=/sys/fs/cgroup/uzswap-hotcold-$$
    mkdir "$CG" && echo "$CG_LIMIT" >"$CG/memory.max" && echo max >"$CG/memory.swap.max" || return 1
    CG_USAGE=$CG/memory.current CG_PEAK=$CG/memory.peak CG_KIND="cgroup v2"
  elif [[ -d /sys/fs/cgroup/memory ]]; then
    # cgroup v1 memory controller (hybrid hierarchy): a child of our own memory cgroup, so
    # whatever limits our parent has still apply.
    local own; own=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
    CG=/sys/fs/cgroup/memory${own%/}/uzswap-hotcold-$$
    mkdir "$CG" && echo "$CG_LIMIT" >"$CG/memory.limit_in_bytes" || return 1
    CG_USAGE=$CG/memory.usage_in_bytes CG_PEAK=$CG/memory.max_usage_in_bytes CG_KIND="cgroup v1"
  else
    return 1
  fi
}
setup_zram() {
  modprobe zram 2>/dev/null
  ZRAM_BEFORE=$(cd /sys/block && echo zram*)
  command -v zramctl >/dev/null || return 1
  ZDEV=$(zramctl --find --size "$((DATA * 2))" --algorithm lz4 2>/dev/null) || { ZDEV=""; return 1; }
  mkswap "$ZDEV" >/dev/null && swapon -p 32767 "$ZDEV" && SWAPON=1
}
# mm_stat: orig_data_size compr_data_size mem_used_total mem_limit mem_used_max ...
zram_sample() {
  local u m; u=$(cat "$CG_USAGE"); read -r -a m <"/sys/block/${ZDEV##*/}/mm_stat"
  # keep the sample with the most data stored (the final verification pass empties zram)
  local best=0; [[ -s $TMP/zram_last ]] && read -r best _ <"$TMP/zram_last"
  ((m[0] > best)) && echo "${m[0]} ${m[1]} ${m[2]}" >"$TMP/zram_last"
  echo $((u + m[2]))
}

ZRAM_FP=0
if ! setup_zram; then
  ZRAM_NOTE="zram not available (modprobe zram / zramctl --find failed): mode 2 skipped"
elif ! setup_cgroup; then
  ZRAM_NOTE="no memory cgroup (v2 memory controller or v1 memory hierarchy): mode 2 skipped"
else
  echo "== kernel zram ($ZDEV, lz4, $CG_KIND limit $(mib_of "$CG_LIMIT") MiB = ${LIMIT_PCT}% of the data)"
  SAMPLE_EXTRA=zram_sample run_sampled "$TMP/zram" \
    sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$BIN" "${ARGS[@]}" ||
    { echo "zram run failed"; cat "$TMP/zram.err"; }
  cat "$TMP/zram"
  ZRAM_FP=$(cat "$TMP/peak_sample")
  read -r ZORIG ZCOMPR ZUSED <"$TMP/zram_last"
  read -r -a MM <"/sys/block/${ZDEV##*/}/mm_stat"
  CG_PEAK_B=$(cat "$CG_PEAK")
  echo "zram: sample with most stored: orig $(mib_of "$ZORIG") MiB compr $(mib_of "$ZCOMPR") MiB mem_used $(mib_of "$ZUSED") MiB;" \
       "mem_used_max $(mib_of "${MM[4]}") MiB; cgroup peak $(mib_of "$CG_PEAK_B") MiB;" \
       "sampled peak(cgroup + zram) $(mib_of "$ZRAM_FP") MiB"
  ZRAM_RATIO=$(awk -v o="$ZORIG" -v c="$ZCOMPR" 'BEGIN {printf "%.2f", o / c}')
  ZRAM_OPS=$(field ops_per_s "$TMP/zram")
  ZRAM_SUM=$(field checksum "$TMP/zram")-$(field final_hash "$TMP/zram")
fi
teardown
[[ -n $ZRAM_NOTE ]] && echo "NOTE: $ZRAM_NOTE"

# uzswap's compression ratio while running: the at-exit summary only describes what is
# still stored after the final verification pass read everything back, so keep the zsstat
# sample (once a second) that had the most pages stored.
ZSSTAT=$BUILD/tools/zsstat
uz_sample() {
  "$ZSSTAT" "$1" --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)["summary"]
print(s["stored_pages"], s["ratio"], s["footprint_bytes"])' >"$TMP/uz_now" 2>/dev/null || return 0
  local now best
  read -r now _ <"$TMP/uz_now"
  best=$(awk '{print $1}' "$TMP/uz_best" 2>/dev/null)
  ((now > ${best:-0})) && cp "$TMP/uz_now" "$TMP/uz_best"
  return 0
}

# --- 3. uzswap at the same footprint ----------------------------------------------------
if ((ZRAM_FP > 0)); then
  UZ_LIMIT=$ZRAM_FP WHY="the zram run's footprint"
else
  UZ_LIMIT=$((PLAIN_FP * FALLBACK_PCT / 100)) WHY="${FALLBACK_PCT}% of the plain footprint (no zram figure)"
fi
echo "== uzswap: UZSWAP_LIMIT=$UZ_LIMIT ($(mib_of "$UZ_LIMIT") MiB, $WHY)"
SAMPLE_UZ=1 run_sampled "$TMP/uz" env LD_PRELOAD="$LIB" UZSWAP_LIMIT="$UZ_LIMIT" UZSWAP_SHOW_STATS=1 \
  "$BIN" "${ARGS[@]}" || echo "uzswap run failed"
cat "$TMP/uz"; grep -E 'at exit|pages:|process:|fault_pool|fault_staged' "$TMP/uz.err"
UZ_HWM=$(( $(field vm_hwm_kib "$TMP/uz") * 1024 ))
UZ_SAMPLED=$(cat "$TMP/peak_sample")
UZ_OPS=$(field ops_per_s "$TMP/uz")
UZ_SUM=$(field checksum "$TMP/uz")-$(field final_hash "$TMP/uz")
UZ_RATIO=-
if [[ -s $TMP/uz_best ]]; then
  read -r UZ_STORED UZ_RATIO _ <"$TMP/uz_best"
  UZ_RATIO=$(printf '%.2f' "$UZ_RATIO")
  echo "uzswap while running (zsstat, sample with most pages stored): $UZ_STORED pages stored, ratio $UZ_RATIO"
fi

# --- table --------------------------------------------------------------------------------
row() {  # mode ops/s footprint-bytes ratio checksum
  awk -v m="$1" -v o="$2" -v po="$PLAIN_OPS" -v f="$3" -v pf="$PLAIN_FP" -v r="$4" -v ok="$5" \
    'BEGIN {printf "| %-28s | %10.0f | %5.1f%% | %7.0f | %5.1f%% | %5s | %s |\n",
            m, o, 100 * o / po, f / 1048576, 100 * f / pf, r, ok}'
}
same() { [[ $1 == "$PLAIN_SUM" ]] && echo same || echo "DIFFERS ($1)"; }
echo
echo "| mode                         |      ops/s | vs plain | footprint MiB | vs plain | ratio | checksum |"
echo "|---|---|---|---|---|---|---|"
row "plain (peak VmRSS)" "$PLAIN_OPS" "$PLAIN_FP" "-" "$PLAIN_SUM"
((ZRAM_FP > 0)) && row "kernel zram, ${LIMIT_PCT}% cgroup limit" "$ZRAM_OPS" "$ZRAM_FP" "$ZRAM_RATIO" "$(same "$ZRAM_SUM")"
row "uzswap, VmHWM" "$UZ_OPS" "$UZ_HWM" "$UZ_RATIO" "$(same "$UZ_SUM")"
row "uzswap, sampled VmRSS peak" "$UZ_OPS" "$UZ_SAMPLED" "$UZ_RATIO" "$(same "$UZ_SUM")"
[[ -n $ZRAM_NOTE ]] && echo "NOTE: $ZRAM_NOTE"
exit 0
