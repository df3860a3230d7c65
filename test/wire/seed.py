"""
moto (a public AWS emulator) on 127.0.0.1 for test/wire/, plus what only AWS itself would hold.

Starts moto's ThreadedMotoServer on 127.0.0.1 (port 0: the OS picks a free one) and prints
`{"port": N}` on one line. Then reads one JSON command a line on stdin and answers one JSON line
on stdout ({"ok": true, ...} or {"error": "..."}); it exits when stdin closes (the test's
afterAll, or the test process dying), so it never outlives its test file.

Commands (seeded into the running server's own backends: moto refuses, as AWS does, writes
under /aws/ through the API, and RegisterImage cannot set an image's id, architecture or
creation date):
  {"op": "parameter", "region": R, "name": N, "value": V}   an SSM String parameter, any name
  {"op": "image", "region": R, "id": "ami-...", "name": N, "architecture": "arm64"|"x86_64",
   "created": "2026-11-05T00:00:00.000Z", "state": "available"}             an AMI, exact id
  {"op": "image-state", "region": R, "id": "ami-...", "state": "deregistered"}
  {"op": "service-steady", "region": R, "cluster": C, "service": S}
      what ECS's service scheduler reports once the tasks the agent stand-in started run: moto
      runs no scheduler, so a service keeps the running count it was created with (0)
"""
import json
import os
import sys
from datetime import datetime, timezone

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.ec2.models import ec2_backends  # noqa: E402
from moto.ec2.models.amis import Ami  # noqa: E402
from moto.moto_server.threaded_moto_server import ThreadedMotoServer  # noqa: E402
from moto.ssm.models import Parameter, ssm_backends  # noqa: E402


def parameter(region, name, value):
    backend = ssm_backends[DEFAULT_ACCOUNT_ID][region]
    # Loads moto's own copy of the public tree first, so that ours replaces it and stays.
    backend._parameters._check_loading_status(name)
    versions = backend._parameters[name]
    versions.append(
        Parameter(
            account_id=DEFAULT_ACCOUNT_ID,
            name=name,
            value=value,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=datetime.now(timezone.utc),
            version=len(versions) + 1,
            data_type="text",
        )
    )
    return {"version": len(versions)}


def image(region, id, name, architecture, created, state="available"):
    backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    created_at = datetime.strptime(created.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    backend.amis[id] = Ami(
        backend,
        id,
        name=name,
        architecture=architecture,
        creation_date=created_at,
        state=state,
        owner_id="591542846629",  # the owner of the ECS-optimized images
        owner_alias="amazon",
        public=True,
        virtualization_type="hvm",
        root_device_type="ebs",
        root_device_name="/dev/xvda",
        region_name=f"{region}a",
    )
    return {}


def image_state(region, id, state):
    ec2_backends[DEFAULT_ACCOUNT_ID][region].amis[id].state = state
    return {}


def service_steady(region, cluster, service):
    from moto.ecs.models import ecs_backends

    found = ecs_backends[DEFAULT_ACCOUNT_ID][region].services[f"{cluster}:{service}"]
    found.running_count = found.desired_count
    found.pending_count = 0
    for deployment in found.deployments:
        deployment["runningCount"] = found.desired_count
        deployment["pendingCount"] = 0
        deployment["rolloutState"] = "COMPLETED"
    return {}


COMMANDS = {"service-steady": service_steady, "parameter": parameter, "image": image, "image-state": image_state}


def answer_json_as_given():
    """
    SQS returns a queue's RedrivePolicy as it was given (compact JSON, as terraform's jsonencode
    writes it); moto re-serializes it with spaces, which terraform then plans as an in-place
    update of the queue ("whitespace changes") on every plan, and amiroll's plan guard rightly
    refuses an update of the drain hook's queue in a replace roll. Answer it as AWS does.
    """
    from moto.sqs.models import Queue

    attributes = Queue.attributes.fget

    def as_aws(self):
        result = attributes(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    Queue.attributes = property(as_aws)


def main():
    answer_json_as_given()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(json.dumps({"port": server.get_host_and_port()[1]}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            command = json.loads(line)
            op = command.pop("op")
            answer = {"ok": True, **COMMANDS[op](**command)}
        except Exception as error:  # noqa: BLE001 (the test reads it)
            answer = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), flush=True)
    server.stop()


if __name__ == "__main__":
    main()
