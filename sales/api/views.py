"""The sales HTTP API (docs/api.md): sales, the purchase gate, tickets, and ops' sale endpoints."""

from __future__ import annotations

from django.conf import settings
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DomainError
from core.http import (
    MAX_LIMIT,
    client_ip_of,
    client_of,
    device_of,
    idempotency_key_of,
    json_body_of,
    user_id_of,
    window_of,
)
from core.language import chosen_language
from core.permissions import staff_with
from sales import report, selectors, services
from sales.api.serializers import (
    DrawOutput,
    DrawResultOutput,
    FCodeIssueInput,
    FCodeIssueOutput,
    PurchaseInput,
    PurchaseOutput,
    ReminderOutput,
    ReservationOutput,
    SaleInput,
    SaleOutput,
    TicketOutput,
    purchase_input,
    sale_representation,
)
from sales.gate.admission import Purchase
from sales.gate.keys import ticket_new
from sales.modes import draws, fcodes, reservations, textbook

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="Client-chosen key; a retry with the same key returns the first ticket.",
)
DEVICE_HEADER = OpenApiParameter("X-Device-Id", str, OpenApiParameter.HEADER, required=False)
WINDOW_PARAMETERS = [
    OpenApiParameter("limit", int, OpenApiParameter.QUERY, required=False,
                     description=f"At most {MAX_LIMIT} (larger values are clamped)."),
    OpenApiParameter("offset", int, OpenApiParameter.QUERY, required=False),
]


def _represent(sales: list) -> list[dict]:
    return [sale_representation(*row) for row in selectors.sale_rows(sales)]


class SaleListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=SaleOutput(many=True), parameters=WINDOW_PARAMETERS)
    def get(self, request):
        """Live and upcoming sales first, then ended ones; ?limit= (default and most 200)
        &offset= windows the list, X-Total-Count counts it."""
        limit, offset = window_of(request.query_params, default_limit=MAX_LIMIT)
        sales = selectors.sale_list_current_first()
        response = Response(_represent(list(sales[offset:offset + limit])))
        response["X-Total-Count"] = str(sales.count())
        return response


class SaleDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=SaleOutput)
    def get(self, request, sale_id: int):
        return Response(_represent([selectors.sale_get(sale_id=sale_id)])[0])


class SalePurchaseApi(APIView):
    """The hot path: no SQL, one Redis call. 202 with a ticket to poll, or a refusal."""

    @extend_schema(request=PurchaseInput, responses={202: PurchaseOutput},
                   parameters=[IDEMPOTENCY_HEADER, DEVICE_HEADER])
    def post(self, request, sale_id: int):
        data = purchase_input(json_body_of(request))
        if settings.PURCHASE_STRATEGY == "row_lock":
            return self._row_lock(request, sale_id, data)
        admission = services.purchase_admit(purchase=Purchase.of_request(
            request, sale_id=sale_id, user_id=user_id_of(request), data=data,
            idempotency_key=idempotency_key_of(request), device=device_of(request)))
        body = {"ticket": admission.ticket, "status": "queued", "position": admission.position}
        return Response(body, status=status.HTTP_202_ACCEPTED)

    def _row_lock(self, request, sale_id: int, data: dict) -> Response:
        """The textbook strategy (benchmarks only): the order exists when we answer."""
        if data["fcode"]:
            raise DomainError("fcode_invalid", "The row-lock strategy takes no F-codes.")
        order = textbook.purchase_row_lock(
            sale_id=sale_id, user_id=user_id_of(request), quantity=data["quantity"],
            address_id=data.get("address_id"), ticket=ticket_new(sale_id),
        )
        body = {"ticket": order.ticket, "status": "confirmed", "position": 0}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class TicketApi(APIView):
    @extend_schema(responses=TicketOutput)
    def get(self, request, ticket: str):
        found = services.ticket_resolve(ticket=ticket, user_id=user_id_of(request))
        return Response(TicketOutput(found.__dict__).data)


class OpsSaleListApi(APIView):
    def get_permissions(self):
        perm = "sales.view_flashsale" if self.request.method == "GET" else "sales.add_flashsale"
        return [staff_with(perm)()]

    @extend_schema(responses=SaleOutput(many=True), parameters=WINDOW_PARAMETERS)
    def get(self, request):
        """Every sale, windowed as every list is (docs/api.md "Lists": ?limit= default 50,
        &offset=, X-Total-Count)."""
        limit, offset = window_of(request.query_params)
        sales = selectors.sale_list()
        response = Response(_represent(list(sales[offset:offset + limit])))
        response["X-Total-Count"] = str(sales.count())
        return response

    @extend_schema(request=SaleInput, responses={201: SaleOutput})
    def post(self, request):
        data = SaleInput(data=request.data)
        data.is_valid(raise_exception=True)
        sale = services.sale_create(**data.to_service_fields())
        return Response(_represent([selectors.sale_get(sale_id=sale.pk)])[0],
                        status=status.HTTP_201_CREATED)


class OpsSaleDetailApi(APIView):
    permission_classes = [staff_with("sales.change_flashsale")]

    @extend_schema(request=SaleInput(partial=True), responses=SaleOutput)
    def patch(self, request, sale_id: int):
        selectors.sale_get(sale_id=sale_id)
        data = SaleInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.sale_update(sale_id=sale_id, **data.to_service_fields())
        return Response(_represent([selectors.sale_get(sale_id=sale_id)])[0])


class SaleReservationApi(APIView):
    @extend_schema(request=None, responses={201: ReservationOutput, 200: ReservationOutput})
    @method_decorator(ratelimit(key="user_or_ip",
                                rate=lambda group, request: settings.RATE_RESERVATION,
                                method="POST", block=True))
    def post(self, request, sale_id: int):
        reservation, created = reservations.reservation_create(
            sale_id=sale_id, user_id=user_id_of(request), device=device_of(request),
            ip=client_ip_of(request), client=client_of(request))
        return Response(ReservationOutput(reservation).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class SaleReminderApi(APIView):
    """The shopper's "remind me" of a sale: PUT sets it (idempotent), DELETE cancels it (only
    one's own: the caller's account is the only one named), GET says whether it is set."""

    @extend_schema(responses=ReminderOutput)
    def get(self, request, sale_id: int):
        return Response(ReminderOutput(selectors.reminder_of(
            sale_id=sale_id, user_id=user_id_of(request))).data)

    @extend_schema(request=None, responses={201: ReminderOutput, 200: ReminderOutput})
    def put(self, request, sale_id: int):
        _reminder, created = services.reminder_set(
            sale_id=sale_id, user_id=user_id_of(request),
            language=chosen_language(request))
        body = ReminderOutput(selectors.reminder_of(sale_id=sale_id,
                                                    user_id=user_id_of(request))).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, sale_id: int):
        services.reminder_cancel(sale_id=sale_id, user_id=user_id_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SaleDrawResultApi(APIView):
    """A shopper's own result in a draw-mode sale."""

    @extend_schema(responses=DrawResultOutput)
    def get(self, request, sale_id: int):
        result = selectors.draw_result(sale_id=sale_id, user_id=user_id_of(request))
        return Response(DrawResultOutput(result).data)


class OpsFCodeIssueApi(APIView):
    permission_classes = [staff_with("sales.add_fcode")]

    @extend_schema(request=FCodeIssueInput, responses={201: FCodeIssueOutput})
    def post(self, request, sale_id: int):
        data = FCodeIssueInput(data=request.data)
        data.is_valid(raise_exception=True)
        issued = fcodes.fcodes_issue(sale_id=sale_id, **data.validated_data)
        body = {"issued": len(issued), "codes": [code.__dict__ for code in issued]}
        return Response(body, status=status.HTTP_201_CREATED)


class OpsFCodeReleaseApi(APIView):
    permission_classes = [staff_with("sales.change_flashsale")]

    @extend_schema(request=None, responses={200: dict})
    def post(self, request, sale_id: int):
        return Response({"released": fcodes.fcode_quota_release(sale_id=sale_id)})


class OpsDrawApi(APIView):
    permission_classes = [staff_with("sales.add_draw")]

    @extend_schema(request=None, responses={201: DrawOutput})
    def post(self, request, sale_id: int):
        draw = draws.draw_run(sale_id=sale_id, run_by_id=user_id_of(request))
        return Response(DrawOutput(draw).data, status=status.HTTP_201_CREATED)


class OpsSaleReportApi(APIView):
    permission_classes = [staff_with("sales.view_flashsale")]

    @extend_schema(responses={200: dict})
    def get(self, request, sale_id: int):
        return Response(report.sale_report(sale=selectors.sale_get(sale_id=sale_id)))
