#!/usr/bin/env bash
# Writes a source bundle (a zip) for the Elastic Beanstalk environment of deploy/elastic-beanstalk.yaml.
#
#   deploy/make-bundle.sh [--https-redirect] --image IMAGE OUTPUT.zip
#     The image built once: a Dockerrun.aws.json naming IMAGE (an ECR URI with its tag or digest),
#     and .platform/ (nginx's body limit). The instances pull IMAGE and build nothing.
#   deploy/make-bundle.sh [--https-redirect] --source OUTPUT.zip
#     The repository at HEAD (git archive): each instance builds the Dockerfile itself.
#
# --https-redirect adds .ebextensions/https-redirect.config (deploy/https-redirect.config): the load
# balancer answers HTTP with a redirect to HTTPS. Only for a stack deployed with CertificateArn.
# Zips with zip, else with python3 -m zipfile.
set -euo pipefail

usage() {
  echo "usage: $0 [--https-redirect] (--image IMAGE | --source) OUTPUT.zip" >&2
  exit 2
}
fail() {
  echo "make-bundle: $*" >&2
  exit 2
}

deploy_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$deploy_dir")
redirect=false
mode=''
image=''
while [ $# -gt 0 ]; do
  case $1 in
    --https-redirect) redirect=true ;;
    --image)
      [ $# -ge 2 ] || usage
      mode=image
      image=$2
      shift
      ;;
    --source) mode=source ;;
    -*) usage ;;
    *) break ;;
  esac
  shift
done
[ -n "$mode" ] && [ $# -eq 1 ] || usage
output=$1
case $output in
  /*) ;;
  *) output=$PWD/$output ;;
esac
[ -d "$(dirname "$output")" ] || fail "no such folder: $(dirname "$output")"

if [ "$mode" = image ]; then
  # Nothing JSON would need escaped, and an explicit tag or digest: every instance, including those
  # a scale-out starts next month, must run the same image.
  case $image in
    '' | *[!A-Za-z0-9._:/@-]*) fail "not an image reference: '$image'" ;;
  esac
  case ${image##*/} in
    *:*) ;; # name:tag or name@sha256:digest
    *) fail "'$image' names no tag or digest: give <repository>:<tag> or <repository>@sha256:<digest>" ;;
  esac
  case $image in
    *:latest) echo "make-bundle: warning: 'latest' can name another image tomorrow; prefer a tag per build" >&2 ;;
  esac
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/bundle
mkdir "$stage"

if [ "$mode" = image ]; then
  cat > "$stage/Dockerrun.aws.json" << EOF
{
  "AWSEBDockerrunVersion": "1",
  "Image": {
    "Name": "$image",
    "Update": "true"
  },
  "Ports": [
    {
      "ContainerPort": 8080
    }
  ]
}
EOF
  cp -R "$root/.platform" "$stage/"
else
  if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
    echo "make-bundle: warning: uncommitted changes are not in the bundle (it is HEAD)" >&2
  fi
  git -C "$root" archive --format=tar HEAD | tar -x -C "$stage"
fi

if [ "$redirect" = true ]; then
  mkdir -p "$stage/.ebextensions"
  cp "$deploy_dir/https-redirect.config" "$stage/.ebextensions/"
fi

archive=$work/bundle.zip
(
  cd "$stage"
  shopt -s dotglob
  entries=(*)
  if command -v zip > /dev/null; then
    zip -q -r -X "$archive" "${entries[@]}"
  elif command -v python3 > /dev/null; then
    python3 -m zipfile -c "$archive" "${entries[@]}"
  else
    fail "needs zip or python3"
  fi
)
mv "$archive" "$output"
echo "make-bundle: wrote $output (${image:-the repository at HEAD}$([ "$redirect" = true ] && echo ', HTTPS redirect'))" >&2
