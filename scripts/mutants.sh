#!/usr/bin/env bash
# The mutation check: injects classic SG-MCMC bugs one at a time and requires the test suite
# (`cargo test --release`) to fail on each, then prints a kill table. Run it before stopping;
# it is not part of CI (each mutant rebuilds and runs the suite up to its first failure:
# 3–5 minutes each on a 2-core machine with the software adapter).
#
#   scripts/mutants.sh            # every mutant
#   scripts/mutants.sh 3 7        # mutants 3 and 7 only
#
# It works in a separate checkout of HEAD (a git worktree under $MUTANTS_DIR, default
# /tmp/langevin-mutants) with its own target folder, so the working tree is never touched.
# Exit status: 0 when every mutant was killed, 1 when one survived, 2 when one could not be
# applied (its pattern no longer matches the source: update the list).
set -uo pipefail

root=$(git rev-parse --show-toplevel)
work=${MUTANTS_DIR:-/tmp/langevin-mutants}
export CARGO_TARGET_DIR="$work-target"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

# file | Perl substitution (applied once) | the bug it stands for
mutants=(
  "src/sampler/sgld.rs|s/\(2\.0 \* factor \* eta \* temperature\)\.sqrt\(\)/(factor * eta * temperature).sqrt()/|noise √(cηT) instead of √(2cηT), computed once on the host for both twins"
  "src/sampler/sgld.rs|s/eta: eta as f32,/eta: (eta * 1.05) as f32,/|host-side step size 5% off, shared by the GPU and its CPU twin"
  "shaders/glm.wgsl|s/return param\(0u\) \* theta_at\(d\);/return 0.0;/|the prior's gradient dropped from the GLM kernel"
  "src/engine/target.rs|s/scale: \(rows as f64 \/ f64::from\(size\)\) as f32,/scale: 1.0,/|the likelihood gradient not scaled by N\/n"
  "shaders/rules.wgsl|s/philox4x32_10\(vec4<u32>\(global_chain\(run, chain\), step, block, STREAM_NOISE\)/philox4x32_10(vec4<u32>(0u, step, block, STREAM_NOISE)/|one noise stream for all chains"
  "shaders/rules.wgsl|s/philox4x32_10\(vec4<u32>\(global_chain\(run, chain\), step, block, STREAM_NOISE\)/philox4x32_10(vec4<u32>(global_chain(run, chain), 0u, block, STREAM_NOISE)/|the noise counter does not advance with the step"
  "shaders/rules.wgsl|s/vec4<f32>\(1\.0 - run\.method_a\) \* \*aux/vec4<f32>((1.0 - run.method_a) * (1.0 - run.method_a)) * *aux/|SGHMC's friction applied twice"
  "shaders/glm_logistic.wgsl|s/return y \/ \(1\.0 \+ exp\(y \* eta\)\);/return -y \/ (1.0 + exp(y * eta));/|the logistic likelihood's sign flipped"
  "shaders/rules.wgsl|s/return fma\(s \* sqrt\(preconditioner\), z, moved\);/return fma(s * preconditioner, z, moved);/|pSGLD's noise scaled by G instead of √G"
  "shaders/rules.wgsl|s/scalars\.noise_scale \* sqrt\(temperature\)/scalars.noise_scale * temperature/|a ladder rung's noise scaled by T instead of √T"
  "src/schedule.rs|s/from \* \(to \/ from\)\.powf\(step as f64 \/ steps as f64\)/from * (to \/ from).powf(step as f64 \/ (steps + 1) as f64)/|the annealing schedule off by one step"
  "src/schedule.rs|s/\(position as f64\) < explore \* length as f64/(position as f64) <= explore * length as f64/|one exploring step too many in each cycle"
  "src/sampler/ladder.rs|s/self\.min \* \(self\.max \/ self\.min\)\.powf\(fraction\)/self.min + (self.max - self.min) * fraction/|ladder rungs spaced linearly instead of geometrically"
  "shaders/minibatch.wgsl|s/let counter = vec4<u32>\(\(\*cursor\)\.owner, \(\*cursor\)\.step, j \/ 4u, STREAM_BATCH\);/let counter = vec4<u32>(0xFFFFFFFFu, (*cursor).step, j \/ 4u, STREAM_BATCH);/|per-chain mini-batches all drawing the shared batch"
  "shaders/data_target.wgsl|s/gradient\[i\] = fma\(-data\.scale, term, gradient\[i\]\);/gradient[i] = fma(data.scale, term, gradient[i]);/|the data term's sign flipped for every data model"
)

selected=("$@")
if [ ${#selected[@]} -eq 0 ]; then
  selected=($(seq 1 ${#mutants[@]}))
fi

if [ ! -d "$work" ]; then
  git -C "$root" worktree add --detach "$work" HEAD >/dev/null || exit 2
fi
git -C "$work" checkout --detach -q "$(git -C "$root" rev-parse HEAD)" || exit 2
git -C "$work" checkout -q -- .

results=()
status=0
for n in "${selected[@]}"; do
  IFS='|' read -r file pattern bug <<<"${mutants[$((n - 1))]}"
  cp "$work/$file" "$work/$file.orig"
  perl -0pi -e "$pattern" "$work/$file"
  if cmp -s "$work/$file" "$work/$file.orig"; then
    results+=("$n|NOT APPLIED|$bug ($file)")
    status=2
    mv "$work/$file.orig" "$work/$file"
    continue
  fi
  rm "$work/$file.orig"
  echo "mutant $n: $bug" >&2
  log="$work-$n.log"
  started=$(date +%s)
  if (cd "$work" && cargo test --release -q >"$log" 2>&1); then
    verdict="SURVIVED"
    status=$((status == 0 ? 1 : status))
  else
    # The first failing test that is not a build error names what killed it.
    killer=$(grep -m1 -E "^test .* FAILED|^---- " "$log" | sed -E 's/^---- (.*) stdout ----/\1/; s/^test (.*) \.\.\. FAILED/\1/')
    if grep -q "^error\(\[E[0-9]*\]\)\?:" "$log" && [ -z "$killer" ]; then
      killer="(did not compile)"
    fi
    verdict="killed by ${killer:-a failing test binary}"
  fi
  results+=("$n|$verdict ($(($(date +%s) - started)) s)|$bug ($file)")
  git -C "$work" checkout -q -- "$file"
done

printf '\n%-3s %-75s %s\n' "#" "bug injected" "result"
for row in "${results[@]}"; do
  IFS='|' read -r n verdict bug <<<"$row"
  printf '%-3s %-75s %s\n' "$n" "$bug" "$verdict"
done
exit $status
