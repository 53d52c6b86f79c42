import Testing

@testable import TributaryReceiver

/// Request parameters decoded as Go's `url.ParseQuery` does, and as Foundation's percent
/// decoding did before the byte decoder: malformed escapes leave the text as it came.
@Suite struct ParamsTests {
    @Test(arguments: [
        ("sum%20by%20(job)%20(up)", "sum by (job) (up)"),
        ("rate(x%5B5m%5D)+*+8", "rate(x[5m]) * 8"),
        ("a%2Bb", "a+b"),
        ("%7Bdevice%21%3D%22lo%22%7D", "{device!=\"lo\"}"),
        ("%c3%a9t%C3%A9", "été"),
        ("été+ok", "été ok"),
        ("plain", "plain"),
        ("", ""),
        // Malformed or not UTF-8: as it came, with + a space.
        ("100%", "100%"),
        ("50%+off", "50% off"),
        ("%zz+x", "%zz x"),
        ("%4", "%4"),
        ("%FF+a", "%FF a")
    ])
    func decodesAsTheQueryStringIsRead(encoded: String, decoded: String) {
        #expect(Params.decode(encoded[...]) == decoded)
    }

    @Test func repeatedKeysAndBareKeysAreKept() {
        let params = Params(query: "match%5B%5D=up&match%5B%5D=node_load1&flag&empty=", form: "query=vector(1)")
        #expect(params.all("match[]") == ["up", "node_load1"])
        #expect(params.first("flag") == "")
        #expect(params.first("empty") == "")
        #expect(params.first("query") == "vector(1)")
        #expect(params.first("missing") == nil)
    }
}
