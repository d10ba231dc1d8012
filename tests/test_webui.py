"""The Temporal Web UI of a real local dev server, loaded by headless Chromium: a running stream workflow is
listed (and one that was never started is not), and a screenshot of the list can be taken."""
import asyncio

from temporal_workflow import client as tclient
from temporal_workflow import webui
from temporal_workflow.devserver import DevServer, connect


def test_a_running_stream_workflow_is_listed_in_the_web_ui(tmp_path):
    server = DevServer(tmp_path / "temporal.sqlite", ui=True).start()

    async def start():
        client = await connect(server.address)
        return client, await tclient.start_stream(client, "nursery-ui", task_queue="no-worker-needed")

    loop = asyncio.new_event_loop()
    try:
        _, handle = loop.run_until_complete(start())
        assert webui.lists_workflow(server.ui_port, handle.id)
        assert not webui.lists_workflow(server.ui_port, "stream-never-started", attempts=1)
        png = webui.screenshot(webui.workflows_url(server.ui_port), tmp_path / "ui.png")
        assert png.stat().st_size > 10_000
        loop.run_until_complete(handle.terminate())
    finally:
        loop.close()
        server.stop()
