"""
The load kit: people using the site, for locust (https://docs.locust.io/).

The mix, by share of requests: browsing and searching 70 % (home page, search
by locality, type and rent, free text, a later page), listing pages 20 %,
actions 10 % (log in, then shortlist a listing, message its owner, open its
visit booking page). Each simulated person has an address of their own in
X-Forwarded-For, as the load balancer in front would send it, so the
per-address rate limits count people, not the load generator.

Run through `python -m bench.soak`, which prepares the data file and the
accounts; by hand:

    LOADKIT_DATA=bench/results/loadkit.json locust -f bench/locustfile.py \
        --headless -u 40 -r 5 --run-time 2m --host https://127.0.0.1:9743

LOADKIT_SIGNED_IN (0 to 1, default 0) is the share of people who log in as
they arrive. Only loopback hosts are accepted: the kit refuses anything else.
"""

import json
import os
import random
import re
import uuid
from urllib.parse import urlencode, urlsplit

from locust import HttpUser, between, events, task
from locust.exception import StopUser

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
WORDS = ["balcony", "parking", "furnished", "quiet", "sunny", "water", "terrace"]


def _data() -> dict:
    with open(os.environ.get("LOADKIT_DATA", "bench/results/loadkit.json")) as file:
        return json.load(file)


DATA = _data()
# The conversations each kit account has started, and how many it starts at
# most: the talk then goes on in them.
CONVERSATIONS: dict[str, list[str]] = {}
NEW_CONVERSATIONS = 3
INBOX_LINK = re.compile(r'class="inbox__item[^"]*" href="(/messages/\d+/)"')


@events.test_start.add_listener
def _only_loopback(environment, **kwargs):
    host = urlsplit(environment.host or "").hostname
    if host not in LOOPBACK:
        raise SystemExit(f"The load kit runs against loopback only, not {host!r}.")


class Person(HttpUser):
    wait_time = between(
        float(os.environ.get("LOADKIT_WAIT_MIN", "1")),
        float(os.environ.get("LOADKIT_WAIT_MAX", "3")),
    )

    def on_start(self):
        if urlsplit(self.host).hostname not in LOOPBACK:
            raise StopUser
        self.client.verify = False  # the layout's self-signed certificate
        address = ".".join(str(random.randint(1, 254)) for _ in range(3))
        self.client.headers["X-Forwarded-For"] = f"10.{address}"
        self.client.headers["Origin"] = self.host
        self.account = None
        # The share of people who sign in as they arrive (the rest may do so
        # later, as one of their actions).
        if random.random() < float(os.environ.get("LOADKIT_SIGNED_IN", "0")):
            self.log_in()

    # --- browsing and searching: 70 % ---------------------------------------

    @task(15)
    def home(self):
        self.client.get("/", name="/")

    @task(40)
    def search(self):
        params = {
            "locality": random.choice(DATA["localities"]),
            "type": random.choice(["flat", "room", "house"]),
            "rent_max": random.randrange(10_000, 80_000, 500),
            "sort": random.choice(["newest", "rent"]),
        }
        self.client.get("/rent/?" + urlencode(params), name="/rent/?locality&type&rent")

    @task(10)
    def search_text(self):
        query = urlencode({"q": random.choice(WORDS)})
        self.client.get(f"/rent/?{query}", name="/rent/?q")

    @task(5)
    def search_later_page(self):
        params = {
            "locality": random.choice(DATA["localities"]),
            "page": random.randint(2, 10),
        }
        self.client.get("/rent/?" + urlencode(params), name="/rent/?locality&page")

    # --- listing pages: 20 % ------------------------------------------------

    @task(20)
    def listing(self):
        self.client.get(random.choice(DATA["listings"]), name="/rent/<id>/<slug>/")

    # --- actions: 10 % ------------------------------------------------------

    @task(10)
    def act(self):
        if self.account is None:
            self.log_in()
            return
        random.choice([self.shortlist, self.message, self.visit_page])()

    def _token(self, path: str, name: str) -> str | None:
        page = self.client.get(path, name=name)
        found = CSRF.search(page.text)
        return found.group(1) if found else None

    def _post(self, path: str, data: dict, name: str, referer: str):
        return self.client.post(
            path, data=data, name=name, headers={"Referer": self.host + referer}
        )

    def log_in(self):
        token = self._token("/accounts/login/", "/accounts/login/")
        account = random.choice(DATA["accounts"])
        with self.client.post(
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": token,
                "username": account,
                "password": DATA["password"],
            },
            headers={"Referer": self.host + "/accounts/login/"},
            name="/accounts/login/ (POST)",
            catch_response=True,
        ) as response:
            if "sessionid" in self.client.cookies:
                self.account = account
                response.success()
                self._known_conversations()
            else:
                response.failure("login did not start a session")

    def _known_conversations(self):
        """The account's conversations, from its inbox: a person returning
        to the site goes on with the owners they already wrote to."""
        if self.account in CONVERSATIONS:
            return
        inbox = self.client.get("/messages/", name="/messages/")
        CONVERSATIONS[self.account] = list(
            dict.fromkeys(INBOX_LINK.findall(inbox.text))
        )[:NEW_CONVERSATIONS]

    def shortlist(self):
        listing = random.choice(DATA["listings"])
        token = self._token(listing, "/rent/<id>/<slug>/")
        pk = listing.strip("/").split("/")[1]
        self._post(
            f"/rent/shortlist/{pk}/",
            {"csrfmiddlewaretoken": token, "next": listing},
            "/rent/shortlist/<id>/ (POST)",
            listing,
        )

    def message(self):
        # As a tenant does: a few owners contacted, then the talk goes on in
        # those conversations (starting one is limited to 30 an hour).
        started = CONVERSATIONS.setdefault(self.account, [])
        if len(started) >= NEW_CONVERSATIONS or (started and random.random() < 0.8):
            conversation = random.choice(started)
            page = self.client.get(conversation, name="/messages/<id>/")
        else:
            listing = random.choice(DATA["listings"])
            token = self._token(listing, "/rent/<id>/<slug>/")
            pk = listing.strip("/").split("/")[1]
            page = self._post(
                f"/messages/start/{pk}/",
                {"csrfmiddlewaretoken": token},
                "/messages/start/<id>/ (POST)",
                listing,
            )
            conversation = urlsplit(page.url).path
            if not re.fullmatch(r"/messages/\d+/", conversation):
                return  # the form to write the first message
            if conversation not in started:
                started.append(conversation)
        token = CSRF.search(page.text)
        self._post(
            conversation,
            {
                "csrfmiddlewaretoken": token.group(1) if token else "",
                # The page's script makes one per message, so a resend is not stored twice.
                "client_id": str(uuid.uuid4()),
                "body": "Namaste, is it still free from next month?",
            },
            "/messages/<id>/ (POST)",
            conversation,
        )

    def visit_page(self):
        pk = random.choice(DATA["listings"]).strip("/").split("/")[1]
        self.client.get(f"/visits/book/{pk}/", name="/visits/book/<id>/")
