# SPDX-License-Identifier: Apache-2.0
"""What Lambda's managed Python runtime does at start: run the real runtime interface client
(awslambdaric) with the handler named by _HANDLER, read from the environment only now, after
AWS_LAMBDA_EXEC_WRAPPER and any wrapper it chains (tracebridge's, then the OTel/ADOT
otel-instrument) have run: the ADOT wrapper swaps _HANDLER for its own otel_wrapper module.
"""

import os
import sys

from awslambdaric.__main__ import main

main([sys.argv[0], os.environ["_HANDLER"]])
