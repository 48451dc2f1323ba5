"""The anti-scalper HTTP API (docs/api.md): ops manage the blacklist, shoppers appeal."""

from __future__ import annotations

from django.conf import settings
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from antiscalper import appeals, flags, selectors, services
from antiscalper.serializers import (
    AppealInput,
    AppealOutput,
    EntryInput,
    EntryListQuery,
    EntryOutput,
    FlagListQuery,
    FlagOutput,
)
from core.http import client_ip_of, device_of, paginated, user_id_of
from core.permissions import staff_with

VIEW, ADD, CHANGE = ("antiscalper.view_blacklistentry", "antiscalper.add_blacklistentry",
                     "antiscalper.change_blacklistentry")
FLAGS_VIEW = "antiscalper.view_riskdecision"


class OpsBlacklistApi(APIView):
    def get_permissions(self):
        return [staff_with(VIEW if self.request.method == "GET" else ADD)()]

    @extend_schema(parameters=[EntryListQuery], responses=EntryOutput(many=True))
    def get(self, request):
        query = EntryListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return paginated(request, selectors.blacklist_list(**query.validated_data), EntryOutput)

    @extend_schema(request=EntryInput, responses={201: EntryOutput, 200: EntryOutput})
    def post(self, request):
        """Block an identity; 200 with the existing entry when it is already blocked."""
        data = EntryInput(data=request.data)
        data.is_valid(raise_exception=True)
        entry, created = services.blacklist_add(**data.validated_data,
                                                actor_id=user_id_of(request))
        return Response(EntryOutput(entry).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class OpsBlacklistDetailApi(APIView):
    def get_permissions(self):
        return [staff_with(VIEW if self.request.method == "GET" else CHANGE)()]

    @extend_schema(responses=EntryOutput)
    def get(self, request, entry_id: int):
        return Response(EntryOutput(selectors.blacklist_get(entry_id=entry_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, entry_id: int):
        """Deactivate the entry (it stays as history); 204 also when it already was."""
        selectors.blacklist_get(entry_id=entry_id)
        services.blacklist_deactivate(entry_id=entry_id, actor_id=user_id_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class OpsFlagsApi(APIView):
    permission_classes = [staff_with(FLAGS_VIEW)]

    @extend_schema(parameters=[FlagListQuery], responses=FlagOutput(many=True))
    def get(self, request):
        """Risk decisions with the rules that fired; flags (review, block) by default."""
        query = FlagListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return paginated(request, flags.flag_list(**query.validated_data), FlagOutput)


class AppealListApi(APIView):
    @extend_schema(responses=AppealOutput(many=True))
    def get(self, request):
        return paginated(request, selectors.appeal_list(user_id=user_id_of(request)),
                         AppealOutput)

    @extend_schema(request=AppealInput, responses={201: AppealOutput, 200: AppealOutput})
    @method_decorator(ratelimit(key="user_or_ip", group="appeals",
                                rate=lambda group, request: settings.RATE_APPEAL,
                                method="POST", block=True))
    def post(self, request):
        """Ask to be cleared; without kind/value the identity is your own account. Only your
        own identities (400 `invalid` otherwise); rate limited (429 `rate_limited`)."""
        data = AppealInput(data=request.data)
        data.is_valid(raise_exception=True)
        appeal, created = appeals.appeal_submit(
            user_id=user_id_of(request), **data.validated_data,
            device=device_of(request), ip=client_ip_of(request))
        return Response(AppealOutput(appeal).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
