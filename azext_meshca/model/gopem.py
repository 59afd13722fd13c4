"""Go's encoding/pem ``Decode``, ported: how istiod (and Go's crypto/x509 pools) read PEM.

In the base layer because both the certificate helpers (``certs.first_block_label``) and
the consumer model of istiod (rules/consumers/istiod.py) read PEM the way Go does.
"""

from azext_meshca.model import certs


def _line_at(data, start):
    """encoding/pem getLine on data[start:]: (the line without CR/LF and trailing blanks, the
    offset after it). Offsets, not slices, so that no input makes the decoder copy it over and over."""
    index = data.find(b"\n", start)
    if index < 0:
        index = after = len(data)
    else:
        after = index + 1
        if index > start and data[index - 1:index] == b"\r":
            index -= 1
    return data[start:index].rstrip(b" \t"), after


_PEM_BEGIN, _PEM_END = b"-----BEGIN ", b"\n-----END "


def pem_decode_at(data, start=0):  # pylint: disable=too-many-return-statements  # a port of Go's Decode
    """golang/go src/encoding/pem/pem.go ``Decode`` (unchanged from Go 1.20 to 1.25) on data[start:],
    ported with offsets: (block, offset after it) with block a certs.PemBlock, or (None, start).

    Go finds the first "\n-----END ", then the last "-----BEGIN " before it that starts a line; a
    block whose base64 does not decode, or whose END line does not match, is skipped and the search
    goes on after that END. So a byte-order mark or text before "-----BEGIN" on its line hides that
    block, while an indented base64 line is fine (spaces and tabs are removed before decoding).
    Each skip moves past one END marker and no search looks back past it: linear in the input.
    """
    import base64
    import binascii
    search = start
    while True:
        end_index = data.find(_PEM_END, search)
        if end_index < 0:
            return None, start
        end_trailer = end_index + len(_PEM_END)
        begin = data.rfind(_PEM_BEGIN, search, end_index)
        if begin < 0 or (begin > search and data[begin - 1:begin] != b"\n"):
            search = end_trailer
            continue
        type_line, position = _line_at(data, begin + len(_PEM_BEGIN))
        if not type_line.endswith(b"-----"):
            search = end_trailer
            continue
        label = type_line[:-5]
        block = _pem_block_body(data, label, position, end_index, end_trailer)
        if block is None:
            search = end_trailer
            continue
        headers, position = block
        der = b""
        if end_index > position:
            encoded = data[position:end_index].replace(b" ", b"").replace(b"\t", b"")
            try:
                # Go's StdEncoding.Decode ignores \r and \n and nothing else.
                der = base64.b64decode(encoded.replace(b"\r", b"").replace(b"\n", b""), validate=True)
            except (binascii.Error, ValueError):
                search = end_trailer
                continue
        return certs.PemBlock(label, headers, der), _line_at(data, end_index + len(_PEM_END) - 1)[1]


def _pem_block_body(data, label, position, end_index, end_trailer):
    """Decode's header lines and END-line checks: (headers, offset of the base64), or None to skip."""
    headers = {}
    while True:
        if position >= len(data):
            return None
        line, following = _line_at(data, position)
        if b":" not in line:
            break
        key, _, value = line.partition(b":")
        headers[key.strip().decode("utf-8", "replace")] = value.strip().decode("utf-8", "replace")
        position = following
    if headers and end_index < position:
        return None
    trailer_length = len(label) + 5
    trailer = data[end_trailer:end_trailer + trailer_length]
    if len(trailer) < trailer_length or not trailer.startswith(label) or not trailer.endswith(b"-----"):
        return None
    if _line_at(data, end_trailer + trailer_length)[0]:
        return None  # the END line must end with only blanks
    return headers, position


def pem_decode(data):
    """pem.Decode(data): (block, rest), or (None, data) when no block decodes."""
    block, after = pem_decode_at(data)
    return (block, data[after:]) if block is not None else (None, data)


def pem_decode_all(data):
    """Every block pem.Decode yields from data, in order (a loop as CertPool and tls use)."""
    blocks, position = [], 0
    while position < len(data) and len(blocks) <= certs.MAX_PEM_BLOCKS:
        block, position = pem_decode_at(data, position)
        if block is None:
            break
        blocks.append(block)
    return blocks
