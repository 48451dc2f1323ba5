def test_products_list_is_public_and_json(anon, sku):
    response = anon.get("/api/v1/products")
    assert response.status_code == 200
    assert response.json()[0]["skus"][0]["price"] == "2499.00"


def test_unknown_api_route_answers_the_error_envelope(anon, db):
    response = anon.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
