# The example service of the debian-bookworm-python guest: a Flask app that answers GET / with its
# versions and GET /stats with a summary pandas computes from the CSV beside it (imported on first
# use: the image has no byte code, so every import compiles its sources, which takes long under
# QEMU's emulation). Served by Werkzeug's server on 127.0.0.1:8080 as user app (init starts it as
# root; it drops to app before anything else).
import os
import pwd

if os.getuid() == 0:  # started by init as root: drop to the service's user first
    app_user = pwd.getpwnam("app")
    os.setgroups([])
    os.setgid(app_user.pw_gid)
    os.setuid(app_user.pw_uid)

import json
import platform

import flask

HERE = os.path.dirname(os.path.abspath(__file__))
app = flask.Flask(__name__)


def reply(body):
    return flask.Response(json.dumps(body, sort_keys=True, separators=(",", ":")), mimetype="application/json")


@app.get("/")
def hello():
    return reply({"service": "flask", "flask": flask.__version__, "python": platform.python_version()})


@app.get("/stats")
def stats():
    import pandas

    readings = pandas.read_csv(os.path.join(HERE, "readings.csv"))
    mean = readings.groupby("sensor")["value"].mean().round(2)
    return reply({"pandas": pandas.__version__, "mean": mean.to_dict()})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8080)
