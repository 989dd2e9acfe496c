"""Running one Rekognition operation sub-command (`rekurator associate-faces ...`)."""

from __future__ import annotations

import uuid

from . import model, skeleton
from .exit_codes import SUCCESS, ParamValidationError
from .global_options import ineffective_notes
from .options import assemble_request, read_operation_args, usage_help
from .pagination import Pages, paginate
from .param_values import has_blob
from .render import convert_timestamps, render


def run_operation(session, operation: str, argv: list[str]) -> int:
    if argv[:1] == ["help"]:
        session.stdout.write(usage_help(operation))
        return SUCCESS
    args = read_operation_args(operation, argv)
    if args.skeleton == "help":
        session.stdout.write(usage_help(operation))
        return SUCCESS
    config = model.paginator(operation)
    in_shape, out_shape = model.input_shape(operation), model.output_shape(operation)
    for note in ineffective_notes(session.namespace, remote=session.remote, command=model.command_name(operation),
                                  paginated=config is not None, blob_input=has_blob(in_shape),
                                  output=session.output.output):
        session.debug.note(note)

    if args.skeleton == "input":  # nothing is validated or called, as in the aws CLI
        session.stdout.write(skeleton.input_json(in_shape))
        return SUCCESS
    if args.skeleton == "yaml-input":
        session.stdout.write(skeleton.input_yaml(in_shape))
        return SUCCESS

    params = assemble_request(args, session.binary_format)
    session.current_operation = operation
    if args.skeleton == "output":  # the inputs were validated; answer with a sample instead of calling
        render(operation, skeleton.sample_output(out_shape), session.output, session.stdout)
        return SUCCESS

    for name, member in in_shape.members.items():
        # botocore fills idempotency tokens the caller left out, so every aws CLI call carries one
        if member.metadata.get("idempotencyToken") and name not in params:
            params[name] = str(uuid.uuid4())

    def call(request: dict) -> dict:
        return convert_timestamps(session.call(operation, request), out_shape)

    if args.paging.get("max_items") is not None and args.paging["max_items"] <= 0:
        session.stderr.write("warning: Non-positive values for --max-items may result in undefined behavior.\n")
    response: Pages | dict
    if config is not None and _paginates(session, args, config, params):
        response = paginate(call, params, config, **args.paging)
        session.debug.note(f"{operation}: {len(response.pages)} page(s) fetched")
    else:
        response = call(params)
    render(operation, response, session.output, session.stdout)
    return SUCCESS


def _paginates(session, args, config: dict, params: dict) -> bool:
    manual = [n for n in (config["input_token"], config.get("limit_key")) if n and n in params]
    if manual:
        session.debug.note(f"{', '.join(manual)} given: automatic pagination is off (as in the aws CLI)")
    if session.namespace.paginate is False or manual:
        if args.paging:
            flags = ", ".join("--" + k.replace("_", "-") for k in args.paging)
            raise ParamValidationError(f"Cannot specify --no-paginate along with pagination arguments: {flags}")
        return False
    return True
