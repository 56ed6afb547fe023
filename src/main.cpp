#include "cli/cli.h"

int main(int argc, char** argv) { return em::run_cli(argc, argv); }
