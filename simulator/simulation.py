"""The whole simulated organisation: GitHub, Jira, Jenkins and GitLab built from one seed,
served together by one `SimulatorServer` (GitHub at /github, Jira at /jira, Jenkins at
/jenkins, GitLab at /gitlab/api/v4)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from simulator.generator import SCALES, generate_org
from simulator.gitlab import GitLabApi, GitLabSite, generate_gitlab
from simulator.jenkins import JenkinsApi, JenkinsSite, generate_jenkins
from simulator.jira import JiraSite, generate_jira
from simulator.jira_api import JiraApi
from simulator.model import Org
from simulator.server import SimulatorServer

# Jira volume per scale preset (issue counts over the preset's window).
JIRA_ISSUES = {"small": 3_000, "medium": 60_000, "large": 1_000_000}
JIRA_EMAIL = "sim@example.com"
JENKINS_USER = "sim"


@dataclass
class Credentials:
    """Secrets clients must present; random unless given (tests and compose fix them)."""

    github_token: str = field(default_factory=lambda: f"ghs_sim_{secrets.token_hex(16)}")
    jira_token: str = field(default_factory=lambda: f"jira_sim_{secrets.token_hex(16)}")
    jenkins_token: str = field(default_factory=lambda: f"jenkins_sim_{secrets.token_hex(16)}")
    gitlab_token: str = field(default_factory=lambda: f"glpat-sim{secrets.token_hex(12)}")


@dataclass
class Simulation:
    org: Org
    jira: JiraSite
    jenkins: JenkinsSite
    gitlab: GitLabSite

    def advance(self, days: int = 1) -> Simulation:
        """Move every source's clock `days` days forward, deterministically.

        GitHub first (the org's repositories gain the commits), then Jenkins and GitLab build
        them, then Jira when its site supports time travel. The same seed and the same
        sequence of advances give identical sources.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        self.org.advance(days)
        self.jenkins.advance(days)
        self.gitlab.advance(days)
        if hasattr(self.jira, "advance"):
            self.jira.advance(days)
        return self

    def server(self, credentials: Credentials, host: str = "127.0.0.1", port: int = 0,
               rate_limit: int = 5000) -> SimulatorServer:
        """A server (not started) mounting every source, accepting these credentials."""
        return SimulatorServer(
            self.org, host=host, port=port, token=credentials.github_token, rate_limit=rate_limit,
            advance=self.advance,
            extra_apis={
                "/jira": JiraApi(self.jira, email=JIRA_EMAIL, token=credentials.jira_token),
                "/jenkins": JenkinsApi(self.jenkins, user=JENKINS_USER, token=credentials.jenkins_token),
                "/gitlab": GitLabApi(self.gitlab, token=credentials.gitlab_token),
            },
        )


def build_simulation(scale: str = "small", seed: int = 7, anchor: datetime | None = None) -> Simulation:
    org = generate_org(scale=scale, seed=seed, anchor=anchor)
    days = SCALES[scale].days
    return Simulation(
        org=org,
        jira=generate_jira(org.teams, org.seed, org.anchor, days, JIRA_ISSUES.get(scale, 3_000)),
        jenkins=generate_jenkins(org.repositories, org.seed, org.anchor, days),
        gitlab=generate_gitlab(org.repositories, org.seed, org.anchor, days),
    )
