"""Stream declarations per source. Importing the package registers every source's scope
kinds (GitHub org/repository, Jira project, Jenkins job, GitLab group/project)."""

from extractors.streams.base import Stream
from extractors.streams.github import GITHUB_STREAMS
from extractors.streams.gitlab import GITLAB_GROUP_STREAMS, GITLAB_PROJECT_STREAMS, GITLAB_STREAMS
from extractors.streams.jenkins import JENKINS_STREAMS
from extractors.streams.jira import jira_streams

__all__ = ["GITHUB_STREAMS", "GITLAB_GROUP_STREAMS", "GITLAB_PROJECT_STREAMS", "GITLAB_STREAMS", "JENKINS_STREAMS",
           "Stream", "jira_streams"]
