#!/bin/bash
# Run once by the influxdb image after its initial setup: the rollup bucket sluice's
# [[downsample]] rule writes to (sluice never creates InfluxDB 2 buckets).
set -euo pipefail
influx bucket create \
    --name "${SLUICE_ROLLUP_BUCKET:-telegraf_5m}" \
    --org "${DOCKER_INFLUXDB_INIT_ORG}" \
    --retention "${SLUICE_ROLLUP_RETENTION:-400d}"
