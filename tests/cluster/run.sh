#!/usr/bin/env bash
# run: the README's main job. On the local cluster (make cluster-up) with this
# checkout staged (make stage): uploads a sample function to S3, starts the
# function-build Pipeline with `tkn pipeline start ... --showlog`, and prints
# the image by digest and verify-image's report.
#
#   FUNCTION=python|node|go (tests/fixtures/functions/FUNCTION, default python)
#   RUN_NAMESPACE (default lambda-builder-demo), RUN_BUCKET (default functions)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
REPO_ROOT=$(cd "$CLUSTER_SRC/../.." && pwd)
export_settings
for f in e2e.env stage.env; do
  [ -f "$CLUSTER_DIR/$f" ] || die "missing $CLUSTER_DIR/$f: run make cluster-up stage (make run does)"
  set -a
  # shellcheck source=/dev/null
  source "$CLUSTER_DIR/$f"
  set +a
done

FUNCTION=${FUNCTION:-python}
NS=${RUN_NAMESPACE:-lambda-builder-demo}
BUCKET=${RUN_BUCKET:-functions}
src=$REPO_ROOT/tests/fixtures/functions/$FUNCTION
[ -d "$src" ] || die "no sample function $FUNCTION (have: $(ls "$REPO_ROOT/tests/fixtures/functions" | tr '\n' ' '))"
tkn() { KUBECONFIG=$CLUSTER_KUBECONFIG "$LB_TOOLS_DIR/bin/tkn" "$@"; }
aws() { AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_DEFAULT_REGION=$S3_REGION command aws --endpoint-url "$S3_ENDPOINT" "$@"; }

log "namespace $NS: Pod Security baseline enforced (the Kaniko step), restricted audited"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace "$NS" --overwrite pod-security.kubernetes.io/enforce=baseline \
  pod-security.kubernetes.io/audit=restricted >/dev/null
kubectl apply -n "$NS" -f "$LB_RELEASE_YAML" >/dev/null
kubectl create secret generic s3-credentials -n "$NS" --dry-run=client -o yaml \
  --from-literal=credentials="$(printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY")" |
  kubectl apply -f - >/dev/null

log "uploading $src to s3://$BUCKET/$FUNCTION/ ($S3_ENDPOINT)"
aws s3api head-bucket --bucket "$BUCKET" >/dev/null 2>&1 || aws s3 mb "s3://$BUCKET" >/dev/null
aws s3 sync --delete --only-show-errors "$src" "s3://$BUCKET/$FUNCTION/"

image=$REGISTRY/functions/$FUNCTION:$(date -u +%Y%m%d-%H%M%S)
log "tkn pipeline start function-build (SOURCE s3://$BUCKET/$FUNCTION/, IMAGE $image)"
out=$RUN/run-$FUNCTION.log
tkn pipeline start function-build -n "$NS" \
  -p SOURCE="s3://$BUCKET/$FUNCTION/" -p IMAGE="$image" \
  -p S3_ENDPOINT="$S3_ENDPOINT" -p AWS_REGION="$S3_REGION" -p BASE_REGISTRY="$LB_BASE_REGISTRY" \
  -w name=aws-credentials,secret=s3-credentials \
  --use-param-defaults --showlog 2>&1 | tee "$out"
run=$(sed -n 's/^PipelineRun started: //p' "$out" | head -n 1)
[ -n "$run" ] || die "tkn started no PipelineRun (see above)"

status=$(kubectl get pipelinerun -n "$NS" "$run" -o jsonpath='{.status.conditions[?(@.type=="Succeeded")].status}')
if [ "$status" != True ]; then
  kubectl get pipelinerun -n "$NS" "$run" -o jsonpath='{.status.conditions[0].reason}: {.status.conditions[0].message}{"\n"}' >&2
  die "PipelineRun $NS/$run did not succeed"
fi
result() { kubectl get pipelinerun -n "$NS" "$run" -o jsonpath="{.status.results[?(@.name==\"$1\")].value}"; }
echo
echo "verification report:"
result REPORT | jq .
echo
echo "built and verified: $(result IMAGE_REF)"
