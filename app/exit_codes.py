"""Exit statuses of every `rekurator` program, as the aws CLI v2 documents them.

    0    success (for `serve`: stopped cleanly)
    1    index-folder and enroll only: part of the work failed, the rest was done (ours)
    130  interrupted (Ctrl-C) during a command
    252  the command line was invalid: syntax, unknown option, bad parameter value, a missing
         or unreadable file:// / fileb:// value (as aws CLI v2)
    253  the environment or configuration was invalid: workspace, remote profile or
         credentials, model pack, the address `serve` should listen on
    254  the service (engine or remote endpoint) answered with an error
    255  anything else

The CLI (app/cli) and the endpoint's `serve` (app/server) share these, so `rekurator serve`
and `rekurator list-faces` mean the same by the same number.
"""

SUCCESS = 0
PARTIAL_FAILURE = 1
INTERRUPTED = 130
PARAM_ERROR = 252
CONFIG_ERROR = 253
SERVICE_ERROR = 254
GENERAL_ERROR = 255
