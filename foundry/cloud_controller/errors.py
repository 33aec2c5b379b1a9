"""CC errors with CF's codes, rendered in the v2 or v3 shape the caller asked for.

Codes and messages are CC's (``vendor/errors/v2.yml`` in cloud_controller_ng) so the
`cf` CLI and scripts that match on ``error_code`` see what they would on a real CC.
"""

from __future__ import annotations

from typing import Any

# name -> (http status, numeric code, message template)
CATALOG: dict[str, tuple[int, int, str]] = {
    "NotFound": (404, 10000, "Unknown request"),
    "InvalidAuthToken": (401, 1000, "Invalid Auth Token"),
    "NotAuthenticated": (401, 10002, "Authentication error"),
    "NotAuthorized": (403, 10003, "You are not authorized to perform the requested action"),
    "InvalidRequest": (400, 10004, "The request is invalid"),
    "MessageParseError": (400, 1001, "Request invalid due to parse error: {0}"),
    "UnprocessableEntity": (422, 10008, "{0}"),
    "OrganizationNotFound": (404, 30003, "The organization could not be found: {0}"),
    "SpaceNotFound": (404, 40004, "The app space could not be found: {0}"),
    "AppInvalid": (400, 100001, "The app is invalid: {0}"),
    "AppNameTaken": (400, 100002, "The app name is taken: {0}"),
    "AppNotFound": (404, 100004, "The app could not be found: {0}"),
    "AppMemoryQuotaExceeded": (400, 100005,
                               "You have exceeded your organization's memory limit: {0}"),
    "AppMemoryInvalid": (400, 100006,
                         "You have specified an invalid amount of memory for your application."),
    "SpaceQuotaMemoryLimitExceeded": (400, 310003,
                                      "You have exceeded your space's memory limit: {0}"),
    "SpaceQuotaInstanceMemoryLimitExceeded": (
        400, 310004, "You have exceeded the instance memory limit for your space's quota."),
    "ProcessNotFound": (404, 10010, "Process not found"),
    "AppPackageInvalid": (400, 150001, "The app package is invalid: {0}"),
    "AppBitsUploadInvalid": (400, 160001, "The app upload is invalid: {0}"),
    "AppBitsTooLarge": (413, 160001, "The app upload is invalid: {0}"),
    "DomainNotFound": (404, 130002, "The domain could not be found: {0}"),
    "RouteInvalid": (400, 210001, "The route is invalid: {0}"),
    "RouteNotFound": (404, 210002, "The route could not be found: {0}"),
    "RouteHostTaken": (400, 210003, "The host is taken: {0}"),
    "RouteMappingNotFound": (404, 210007, "The route mapping could not be found: {0}"),
    "ServiceInstanceNameTaken": (400, 60002, "The service instance name is taken: {0}"),
    "ServiceInstanceNotFound": (404, 60004, "The service instance could not be found: {0}"),
    "ServiceBindingAppServiceTaken": (400, 90003, "The app is already bound to the service: {0}"),
    "ServiceBindingNotFound": (404, 90004, "The service binding could not be found: {0}"),
    "ServicePlanNotFound": (404, 110003, "The service plan could not be found: {0}"),
    "ServiceBrokerBadResponse": (502, 10001, "{0}"),
    "AssociationNotEmpty": (400, 10006, "Please delete the {0} associations for your {1}."),
    "AppStoppedStatsError": (400, 200003, "Could not fetch stats for stopped app: {0}"),
    "InstancesError": (400, 220001, "Instances error: {0}"),
    "RunnerUnavailable": (503, 170015, "Runner is unavailable: {0}"),
    "RunnerError": (500, 170016, "Runner error: {0}"),
}


class CCError(Exception):
    def __init__(self, name: str, *args: Any) -> None:
        self.name = name
        self.status, self.code, template = CATALOG[name]
        self.description = template.format(*args)
        super().__init__(self.description)

    def v2(self) -> dict[str, Any]:
        return {"code": self.code, "description": self.description,
                "error_code": f"CF-{self.name}"}

    def v3(self) -> dict[str, Any]:
        return {"errors": [{"code": self.code, "title": f"CF-{self.name}",
                            "detail": self.description}]}
