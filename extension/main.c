/* SPDX-License-Identifier: Apache-2.0 */
/* tracebridge: Lambda external extension (default) and command-line tools. */
#include <stdio.h>
#include <string.h>

#include "extension/conf.h"
#include "extension/daemon.h"
#include "proxy/promote/promote.h"

static int usage(void)
{
    fputs("usage: tracebridge                 run as a Lambda extension\n"
          "       tracebridge rewrite [--trace-id-header V] [--client-context JSON]\n"
          "                           [--span-id HEX]  show what the handler receives\n"
          "       tracebridge env-doc          print the configuration table (Markdown)\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "rewrite") == 0)
        return promote_cli_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "env-doc") == 0) {
        conf_print_markdown(stdout);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return usage();
    return daemon_main(argc, argv);
}
