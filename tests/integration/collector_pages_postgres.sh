#!/bin/bash
# collector_pages.sh with the collector's history in PostgreSQL ([history] url = a private
# cluster the test starts and removes): `report` and the dashboard read the second store.
EM_HISTORY=postgres exec bash "$(dirname "$0")/collector_pages.sh"
