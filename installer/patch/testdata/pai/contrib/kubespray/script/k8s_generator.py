import logging

logger = logging.getLogger(__name__)


def check(plugin):
    # Azure and calico do not mix: https://docs.projectcalico.org/
    if plugin == "calico":
        logger.error("see https://docs.projectcalico.org/reference/public-cloud/azure")
