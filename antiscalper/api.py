"""The anti-scalper HTTP API (docs/api.md): ops manage the blacklist and answer ring cases,
shoppers appeal."""

from __future__ import annotations

from django.conf import settings
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from antiscalper import appeals, cases, flags, selectors, services
from antiscalper.serializers import (
    AppealInput,
    AppealOutput,
    CaseAnswerInput,
    CaseAnswerOutput,
    CaseDetailOutput,
    CaseListQuery,
    CaseOutput,
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
CASES_VIEW, CASES_ACT = "antiscalper.view_ringcase", "antiscalper.act_on_case"


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


class OpsCaseListApi(APIView):
    permission_classes = [staff_with(CASES_VIEW)]

    @extend_schema(parameters=[CaseListQuery], responses=CaseOutput(many=True))
    def get(self, request, sale_id: int):
        """The sale's ring cases (linking's flagged clusters), open ones first."""
        query = CaseListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return paginated(request, selectors.case_list(sale_id=sale_id,
                                                      **query.validated_data), CaseOutput)


class OpsCaseDetailApi(APIView):
    permission_classes = [staff_with(CASES_VIEW)]

    @extend_schema(responses=CaseDetailOutput)
    def get(self, request, sale_id: int, case_id: int):
        case = selectors.case_get(sale_id=sale_id, case_id=case_id)
        return Response(CaseDetailOutput(case, context={
            "accounts": selectors.case_members(case=case)}).data)


def _case_answered(request, *, sale_id: int, case_id: int, answer: str) -> Response:
    data = CaseAnswerInput(data=request.data)
    data.is_valid(raise_exception=True)
    case, answered = cases.case_answer(sale_id=sale_id, case_id=case_id, answer=answer,
                                       actor_id=user_id_of(request),
                                       seen=data.validated_data.get("members"))
    return Response(CaseAnswerOutput({"case": case, "answered": answered}).data)


class OpsCaseConfirmApi(APIView):
    # Confirming blacklists the members: the right to add to the blacklist too.
    permission_classes = [staff_with(CASES_VIEW, CASES_ACT, ADD)]

    @extend_schema(request=CaseAnswerInput, responses=CaseAnswerOutput)
    def post(self, request, sale_id: int, case_id: int):
        """Confirm the ring: block and blacklist (by account) every member with a pending
        flag; the linking step cancels their unshipped orders within a second or two."""
        return _case_answered(request, sale_id=sale_id, case_id=case_id, answer="confirm")


class OpsCaseClearApi(APIView):
    permission_classes = [staff_with(CASES_VIEW, CASES_ACT)]

    @extend_schema(request=CaseAnswerInput, responses=CaseAnswerOutput)
    def post(self, request, sale_id: int, case_id: int):
        """Clear the ring: allow every member with a pending flag; the case's links stop
        tying them in this sale."""
        return _case_answered(request, sale_id=sale_id, case_id=case_id, answer="clear")
