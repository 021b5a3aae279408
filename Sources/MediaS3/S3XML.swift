import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// One page of a ListObjectsV2 answer (`ListBucketResult`).
public struct S3ListPage: Sendable, Equatable {
    public struct Object: Sendable, Equatable {
        public var key: String
        public var size: Int
        public var lastModified: String
    }

    public var objects: [Object]
    public var isTruncated: Bool
    public var nextContinuationToken: String?

    /// Nil unless `xml` is a `ListBucketResult`.
    init?(xml: [UInt8]) {
        guard let tree = XMLElementTree.parse(xml), tree.name == "ListBucketResult" else { return nil }
        objects = tree.children.filter { $0.name == "Contents" }.compactMap { item in
            guard let key = item.child("Key")?.text else { return nil }
            return Object(key: key, size: Int(item.child("Size")?.text ?? "") ?? 0, lastModified: item.child("LastModified")?.text ?? "")
        }
        isTruncated = tree.child("IsTruncated")?.text == "true"
        nextContinuationToken = tree.child("NextContinuationToken")?.text
    }
}

/// S3's error document: `<Error><Code>…</Code><Message>…</Message></Error>`.
struct S3ErrorBody: Equatable {
    var code: String
    var message: String?

    init?(xml: [UInt8]) {
        guard !xml.isEmpty, let tree = XMLElementTree.parse(xml), tree.name == "Error",
              let code = tree.child("Code")?.text, !code.isEmpty else { return nil }
        self.code = code
        message = tree.child("Message")?.text
    }
}

/// A small element tree built with Foundation's XMLParser (libxml2): names, children and text; attributes and
/// namespaces are not needed for S3's answers. External entities are never resolved.
struct XMLElementTree {
    var name: String
    var text: String = ""
    var children: [XMLElementTree] = []

    func child(_ name: String) -> XMLElementTree? { children.first { $0.name == name } }

    static func parse(_ bytes: [UInt8]) -> XMLElementTree? {
        let parser = XMLParser(data: Data(bytes))
        parser.shouldResolveExternalEntities = false
        parser.shouldProcessNamespaces = false
        let builder = Builder()
        parser.delegate = builder
        guard parser.parse() else { return nil }
        return builder.root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLElementTree] = []
        var root: XMLElementTree?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            stack.append(XMLElementTree(name: elementName))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            guard let done = stack.popLast() else { return }
            if stack.isEmpty { root = done } else { stack[stack.count - 1].children.append(done) }
        }
    }
}
