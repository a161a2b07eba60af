def test_smoke(source, services):
    codename = source.signup()
    r = source.submit("hello there", (b"x" * 1000, "report.pdf"))
    assert r.status_code == 302, r.get_data(as_text=True)
    page = source.client.get("/lookup").get_data(as_text=True)
    assert "You have sent 2 items" in page, page
    source.client.get("/logout")
    r = source.login(codename)
    assert r.status_code == 302
    r = source.login("wrong " * 7)
    assert r.status_code == 401
