#!/usr/bin/env bash
# Installs the Debian packages the project needs when they are missing:
# Chromium (browser tests), BLAS/LAPACK (Spark MLlib), a JDK (Spark, Hadoop) and Maven
# (fetches the HDFS/HBase jars from Maven Central), and PostgreSQL, Redis and nginx for the
# production profile (started by infra/postgres.sh, infra/redis.sh and infra/nginx.sh, never as
# system services).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || need+=(fonts-wqy-microhei)
dpkg -s libblas3 >/dev/null 2>&1 || need+=(libblas3)
dpkg -s liblapack3 >/dev/null 2>&1 || need+=(liblapack3)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
command -v mvn >/dev/null 2>&1 || need+=(maven)
dpkg -s postgresql-15 >/dev/null 2>&1 || need+=(postgresql-15)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
