/* SPDX-License-Identifier: Apache-2.0 */
/* daemon: the Lambda extension process. Owns the libuv loop and every part (proxy, Extensions
 * API client, lifecycle, span buffer, exporter, OTLP receiver); nothing lives in globals. */
#ifndef TB_DAEMON_H
#define TB_DAEMON_H

/* Runs the extension until SHUTDOWN. Returns the process exit code. */
int daemon_main(int argc, char **argv);

#endif
