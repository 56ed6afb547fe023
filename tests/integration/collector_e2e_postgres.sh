#!/bin/bash
# collector_e2e.sh with the collector's history in PostgreSQL ([history] url = a private
# cluster the test starts and removes, tests/tools/pg-cluster.sh): collect, alerts and
# `report` against the second store.
EM_HISTORY=postgres exec bash "$(dirname "$0")/collector_e2e.sh"
