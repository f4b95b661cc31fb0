//! Fixed RSA test keys, generated once with OpenSSL 3.0 (`openssl genpkey -algorithm RSA
//! -pkeyopt rsa_keygen_bits:2048`), so tests do not pay for key generation in debug builds. `KEY_*`
//! are one key in every format our credentials loader accepts or refuses:
//! - `KEY_PKCS8`: as generated;
//! - `KEY_PKCS8_ENCRYPTED`: `openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:correct-horse`;
//! - `KEY_PKCS1`: `openssl rsa -traditional`;
//! - `KEY_LEGACY_ENCRYPTED`: `openssl rsa -traditional -aes128 -passout pass:correct-horse`;
//! - `KEY_PUBLIC`: `openssl pkey -pubout`.
//!
//! `OTHER_KEY` is a second, unrelated key (signatures made with it must be rejected). These keys
//! protect nothing.
#![allow(dead_code)]

pub const PASS_PHRASE: &str = "correct-horse";
/// `openssl pkey -in key.pem -pubout -outform DER | openssl md5 -c`
pub const FINGERPRINT: &str = "1d:13:36:a9:ae:f9:cf:47:29:7b:d1:6f:f4:1e:64:b2";

pub const KEY_PKCS8: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCoSNJ60ifH/Gdd\n\
6rK9s1P4r8cXS9gHwR4juAtt6I2O2aVk5y+fxic5tZeYUwtN+oqygyCvXDNq7CDw\n\
98vmdGRYC+rUw85rPjmpskhnYhuMnkqcblSoR1upTGRobtTkmluBog9jFH6Ydx8e\n\
D/v3LkL6tnP57VGFbf5AGOPY36unYidUdXYf/vuuW+bzrtqj88C6JB/81p0Gt5fq\n\
+KsD5wCbf3Ir4kR1okOgBDa0bUGqJSMlvg00A9GQm+beV6yoVlHc5EfKkcmWLp2g\n\
8RE6wjiiCMdZfAfwuZ6l0thu8C2yzBKTgNvOOjsBFJJ3Cc6vTemZtA8G5xty/ipT\n\
ARwOvO+BAgMBAAECggEAIodmoIrUXMVeVDfe2uubtDAk8pO+TMEENSIDPlb0DLZ9\n\
qDmDXQ4kaEPpSfjoHeTlZoFfSHvrlOnETI0bijqhiCtR0Lwoc3q+DCKnlobbzjuA\n\
ZZ6BwlF57j/dbkwnZIyDcBLXg2XmH9R5TwrKkUotthGPtF1MV8tc2rwArDQgnWRC\n\
LELhOb6F/g7gf3o9ACcPTftADR1h5f7n6B3aFUTX9e6QL2ULlY061l5xj3n/0x1W\n\
ZsJ0T9Zgbu+ntlLIAWqj52CZbfH43/Rg9X41wzjTOyyX+NVuf2qyGEwElMbgTvWu\n\
yHDRKEBFniCbtHJ3ACl9/LZUVhQ/8vgciI/VEx/RTQKBgQDSmh6A9lcZF4R1ow6H\n\
d21qAMtuSBRUxDyW5AcSEVlNi7WTKU82Lln2hCMc9Ij/emRCKb4SO+3Mf3r05s8S\n\
N1CpbBh+5mVo4P6Al7dyc0ev1i0AMzbu0fd3UTSrG7KhMQyK099NhNiEnj6TAehL\n\
W31472ZpYwoPOvNxkpDry6NYYwKBgQDMj3Jc2WXKjXVebDxn6uaQzqh7BdntRXQ/\n\
WyvPmjhPnOyTG4dKdtx22OFZc4VP0Luw1g9+pbc+tQXI+qpZ0uH0yA4nYlQc5ZiT\n\
L7wx6dSctbOzZjW6d7Lp6kCIbKqE4DaikgFcdrPJVwwbMcW0ZQixlHYGa4UOD7gI\n\
B+r4N0eTywKBgQDA58bVHc+9/hqonkjqsOwZ0syEIaXt1yoglJIdbKK+MyCIwaf6\n\
2w4wjeyT0zHBwdwf9phRn288h/CabuhxqRVLeuYdJvDw1laId2/jd9DMMYRa0I6a\n\
xtzEADAcI2zF1WXFrDi4itzA7SooAfFDRXRy1+aY1c0bEkZ3W2c/dPIUPQKBgDqD\n\
BZldbepkUCA0IYsv+8eL9VFLOSzPYxMERyHY4SaUom7pvucj3Kf6HWtyyb0s3aMV\n\
d9UoHaRIL2Fvoe6TjaJw3uuRCrJBUkU3sEMuuWwh5Ub5g4DU4E5cfR0IyDW91KLn\n\
1I/YPFDpH0NgF0ckZzo0VxY7BxIgmOljKmjZlxXFAoGBAMVl+41E68z9bh3Ez/tj\n\
68EK7Ql5T1Sh6D8Izda6PAc2S/XcirhQpG6DDPIaQZf2ulbgk1MHXEmKp71K4CcP\n\
6ZurazO91plZT1nLMyYYWd+ap1v/TSXPJGQVbil/Q+nK6FExb/y95R//1xPWRBup\n\
aMDm1h4AOhmqIVCnhsk8u9F8\n\
-----END PRIVATE KEY-----\n\
";

pub const KEY_PKCS8_ENCRYPTED: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----\n\
MIIFLTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQIAdT/OC1HqP0CAggA\n\
MAwGCCqGSIb3DQIJBQAwHQYJYIZIAWUDBAEqBBCeVv4jAf6yzulN5qTrmPuPBIIE\n\
0G5EdcAk+jqYKuQEeOZNXL0JmNtrvnzKHcN3BVuRSArzw1CK2tBhySYPbtLE8IIm\n\
kSJ1Hfkg1BHHZ4WySd9ftfaoicoMZ7oNpoitRJ5y72PYG8bn+RcbIQqScPoxBijr\n\
hD6lEoFPE7cGZudwLRrZlf1xXVdWfrDq7oVDy4xnfmYqTlPLy9OWkf0sR+OatXHw\n\
uU0PgRjF/aIQccQ4Zxi2hv8Db+Tx6oFZ/Fp/iY5AJSromcMsH1InNKSJWjr5/tAd\n\
5Rfat6T+tiOhHKUXymuoqOOt0cLrB73P/bj/hUAzN7XhAr0jRWa5fG6xwlvmUq2l\n\
peSMbOxcRo93nM+rabNELRpCSPjjA2dzzN2RdCI23Dn+zMjyTBd05kyBEMpS8xWZ\n\
7SUDZhEkrJIKWlXiL0PZp7+cuwrwWv4/EpSV6tp/h/7J3RN1WFh9F8uCifLac/4i\n\
1ETHMawFRDVUA44A7v1upVv8aBvYnckXgrb5oz/NI7B7v9iS9FsYgpK34s+5skuN\n\
Ui5jhJhqT8eKFcbdv9Ua7yLjv/RKlCRCbr/dGrm/AC9a4VSUu9ZTKNlN2REPBYRv\n\
F096fI9Dyt62KpKvAa02xIU1w5a+WBMDFf4C/UtCyGQITwm3QqfqLxZTOCnUg5bU\n\
eoMpnH6hmHge1qavB7xBSHnMrjmKvYbYXgvZkU5iyE5fiU+8Y78fZyCzAl9v4oU2\n\
d7jsqVt/SMxomf5+8u5nI7lFw61Lp4OFE2Ak7z2+A8WGPcVCSBqg3UZqj/ibPYnc\n\
S+0mXnvdfanDswfD2y+Hiz5hj+esEiKdfG1aY89qSZnoFzABjFv9Xv2htD0Pa/R2\n\
IJNRiTX55Bm/lqWOR71kwBRibqQeGS3oaIB6ArRfzy8iOhvNv46cf/1y3gshHkKx\n\
4TLHpU3PbcVvvGZJY1sM1NjCZYk36NuLNviKcMtaoTBQhRkjmNeKE6IwOV5eoZrr\n\
maVb/OSoojfvv8hVbg2V2Sqk6fxX3ZdkdRF5P24h8xluf6IokZokfcSc6eKxh9EX\n\
7Kjs2svCL2v0p8K5nCSgwoEyCxXAGKDWdNY5GPQiC6zmHyOxzHZSoaRW91kzvMId\n\
xk1LHY/tkFNPyWMR5Y4pxax+iFJ2lH5DGUKLfYyETm+U95Zyq2GsC0YHV83ut4fI\n\
9VWGKEi8FC+KwD33S9F9/ir6MvbA0QqgUcOp0zOZTdpxRvQTstZp+gSGKEOoqpNQ\n\
VlDyNZSrGKrobIbo6iwTBBfD3mJ32O5vGMnLx7kOhHiVSnE3M+cCw4NHH2fEE9Zp\n\
+YZZdjQ5IObBQJrFiD0vTFG+urOQaPV6Cg4r4DUqOcpfhzzLLdE7TQ+TcPqkHZTY\n\
v845+BmWaLQ5s/hTbA3RGRA7xtH1qTDk0qCBWAuZo1uqsr49IvfQ//qpgmgiRRfl\n\
oZ364pT8ktLCU5/hIUTrKxZOJdAgGkaPTuWjNBJ7bw746RyX5JqmX1OaQigNP6pO\n\
ORwpJ6ZunidwCKyX4IdUhP952mXfN5jxAKYTqax8p0EIk7iRpHchSWoHaWl2GcOB\n\
/IVUAittB5G4Qn/wyGpBnJK6rzcTfzP0WHnYruXFc4kqLpchRNF7yP0KTvhRp9D4\n\
plMTG42q0iEv1k7BF/oQYwouks2jZuvskIlp72USrEZD\n\
-----END ENCRYPTED PRIVATE KEY-----\n\
";

pub const KEY_PKCS1: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIIEpAIBAAKCAQEAqEjSetInx/xnXeqyvbNT+K/HF0vYB8EeI7gLbeiNjtmlZOcv\n\
n8YnObWXmFMLTfqKsoMgr1wzauwg8PfL5nRkWAvq1MPOaz45qbJIZ2IbjJ5KnG5U\n\
qEdbqUxkaG7U5JpbgaIPYxR+mHcfHg/79y5C+rZz+e1RhW3+QBjj2N+rp2InVHV2\n\
H/77rlvm867ao/PAuiQf/NadBreX6virA+cAm39yK+JEdaJDoAQ2tG1BqiUjJb4N\n\
NAPRkJvm3lesqFZR3ORHypHJli6doPEROsI4ogjHWXwH8LmepdLYbvAtsswSk4Db\n\
zjo7ARSSdwnOr03pmbQPBucbcv4qUwEcDrzvgQIDAQABAoIBACKHZqCK1FzFXlQ3\n\
3trrm7QwJPKTvkzBBDUiAz5W9Ay2fag5g10OJGhD6Un46B3k5WaBX0h765TpxEyN\n\
G4o6oYgrUdC8KHN6vgwip5aG2847gGWegcJRee4/3W5MJ2SMg3AS14Nl5h/UeU8K\n\
ypFKLbYRj7RdTFfLXNq8AKw0IJ1kQixC4Tm+hf4O4H96PQAnD037QA0dYeX+5+gd\n\
2hVE1/XukC9lC5WNOtZecY95/9MdVmbCdE/WYG7vp7ZSyAFqo+dgmW3x+N/0YPV+\n\
NcM40zssl/jVbn9qshhMBJTG4E71rshw0ShARZ4gm7RydwApffy2VFYUP/L4HIiP\n\
1RMf0U0CgYEA0poegPZXGReEdaMOh3dtagDLbkgUVMQ8luQHEhFZTYu1kylPNi5Z\n\
9oQjHPSI/3pkQim+EjvtzH969ObPEjdQqWwYfuZlaOD+gJe3cnNHr9YtADM27tH3\n\
d1E0qxuyoTEMitPfTYTYhJ4+kwHoS1t9eO9maWMKDzrzcZKQ68ujWGMCgYEAzI9y\n\
XNllyo11Xmw8Z+rmkM6oewXZ7UV0P1srz5o4T5zskxuHSnbcdtjhWXOFT9C7sNYP\n\
fqW3PrUFyPqqWdLh9MgOJ2JUHOWYky+8MenUnLWzs2Y1uney6epAiGyqhOA2opIB\n\
XHazyVcMGzHFtGUIsZR2BmuFDg+4CAfq+DdHk8sCgYEAwOfG1R3Pvf4aqJ5I6rDs\n\
GdLMhCGl7dcqIJSSHWyivjMgiMGn+tsOMI3sk9MxwcHcH/aYUZ9vPIfwmm7ocakV\n\
S3rmHSbw8NZWiHdv43fQzDGEWtCOmsbcxAAwHCNsxdVlxaw4uIrcwO0qKAHxQ0V0\n\
ctfmmNXNGxJGd1tnP3TyFD0CgYA6gwWZXW3qZFAgNCGLL/vHi/VRSzksz2MTBEch\n\
2OEmlKJu6b7nI9yn+h1rcsm9LN2jFXfVKB2kSC9hb6Huk42icN7rkQqyQVJFN7BD\n\
LrlsIeVG+YOA1OBOXH0dCMg1vdSi59SP2DxQ6R9DYBdHJGc6NFcWOwcSIJjpYypo\n\
2ZcVxQKBgQDFZfuNROvM/W4dxM/7Y+vBCu0JeU9Uoeg/CM3WujwHNkv13Iq4UKRu\n\
gwzyGkGX9rpW4JNTB1xJiqe9SuAnD+mbq2szvdaZWU9ZyzMmGFnfmqdb/00lzyRk\n\
FW4pf0PpyuhRMW/8veUf/9cT1kQbqWjA5tYeADoZqiFQp4bJPLvRfA==\n\
-----END RSA PRIVATE KEY-----\n\
";

pub const KEY_LEGACY_ENCRYPTED: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
Proc-Type: 4,ENCRYPTED\n\
DEK-Info: AES-128-CBC,874332B14E10306202A0F99B34C1B7E1\n\
\n\
gdUHKBXPnXaALU6A7QlHkd5AORPgE6Ai3kE3AvQ1vBUlguikY1q/43x9NwqrUKcb\n\
Bh2RnXE90+i1r12eC1sVPJ25uAqT+o9mFgaoLp+TeD8g52ekPgfiLYheORzKgcXa\n\
RhvKABXspxiyis9H+4VZgBgjyWSN6asH84k7uRQn0hnwdGKuqzYlQcxkL3qCFVp3\n\
wiIDIDjgoJEEji+IHzV0tHU1SaC/iSiHN7CiQTWBSz8u/yYM3fvzuKD2fnNv5gan\n\
EdVEYuyecPOvgRERFvruX9p+zPK/SjX+CoHSTIFAlJtPOUyiabSyzrnlbVqL2aIo\n\
IYQRnSdl/QzGToSxVqCGyg+LOVQoiY0c848ym0cAs58+TuJ82dLeMq3nsU14m7Zz\n\
8T+zMzxgn4yGpDHkn6EI3VVtW2YudCqiwbGclbdKMiMx0Q5+GJNfa1HmQM04en2n\n\
oN/MZtctxbbY5NNXVJUqbh5mHCiJKGDAcPntjO1EZMjr9tfPNohGrILkqp6P7TvD\n\
zQZQF5SXOpY7GxK3cFzRo2HsNRdFKSHCVEoY1LhjVYakko+KwFBSZZ23xg7YRaLR\n\
bRSb+H/PBoH1uC+Jil+5dCJhkH1JfAqTuIMn4HFmntZgMnBbQqbPT28NeFY31eaE\n\
HPcEcSI4VJldUSRMZRydyb21saU9jj9GDPq1GV86VSkSA3YewPevSNpr6DTgrxI/\n\
1azcEXmegf781rh7mjv/z5wYcS9ldrQcsJl1IFTdcsRHeKgO7qNxe7CpIPBorkNl\n\
unqWjhTw8moA0qe/c8fUquIzb+fY97Bl1vJxtQFVZiwvjZ2bb0amBf3k9CEifSjw\n\
tYAtdBgdKnkK5QvJZZqWNBtIKHUjs9WT15brMHeWx+z+KXCtp1uBN60gqOn1S1Nu\n\
IeO9k5dYkhN6UTaYAPOPCPxCmj5AL+O6Tl6IRM2VSK9X37V6uk9nJkHal7sOJnQp\n\
LuyARfLD9n9mOiFrApAGsjsGm3l//JUSaTtKxtL0AQASOB4y1F4O/zM61Lh+/vrb\n\
d4Q+VtpGOkxZmvBoJ7IkyImf/FptZx71mrYOF7zQpUTw1CkS7B7ypOyV1N7rChUx\n\
gBNkO5xQH/vMI/mA0ULovKdloI+q6HkeyhiRhFGQYCs2jbz2ZO55FcINltkSDU+S\n\
taWsVGDTsSdB6NAr8fx/YyeXXV0b26hcc2k/KR4VIlackjhCv9tAH4gWjGLGncQ/\n\
8YARmPfpFQ1GhdbHoJzzCZ0ch2vBfVyEGqFgCDDH+JIgbtz4vek3OBFcfMXB6kiZ\n\
MvOsz7rfy3ej0LlwChOjv29MdUsiDxlMuBVpnIh62E5qzutUgWk1h+hgo89BA2UM\n\
UJ/sQFYU8sS1muZY3ndSA/M7dgWH29bP3WFbAf0v29IpLDhr4g/yWxzohKiJqa0Y\n\
8YS1fVlaVXaYX+rvyqAYH+C7CN8AIcKnbWJ0dT+d9O2ri+Bb/3pS255kTNYLcr7W\n\
9K61s+d4HpoHMyB0mVeuoVvsG0MwRq0GUbtdcLXBOG1XGY6axBaskrNyjubEQwtT\n\
kkJzOILHr4kSrJNj97iI6sH0QlKE2xbad7HpQPmbe5xlyr+1Qqp3DxFikh2drwhK\n\
-----END RSA PRIVATE KEY-----\n\
";

pub const KEY_PUBLIC: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqEjSetInx/xnXeqyvbNT\n\
+K/HF0vYB8EeI7gLbeiNjtmlZOcvn8YnObWXmFMLTfqKsoMgr1wzauwg8PfL5nRk\n\
WAvq1MPOaz45qbJIZ2IbjJ5KnG5UqEdbqUxkaG7U5JpbgaIPYxR+mHcfHg/79y5C\n\
+rZz+e1RhW3+QBjj2N+rp2InVHV2H/77rlvm867ao/PAuiQf/NadBreX6virA+cA\n\
m39yK+JEdaJDoAQ2tG1BqiUjJb4NNAPRkJvm3lesqFZR3ORHypHJli6doPEROsI4\n\
ogjHWXwH8LmepdLYbvAtsswSk4Dbzjo7ARSSdwnOr03pmbQPBucbcv4qUwEcDrzv\n\
gQIDAQAB\n\
-----END PUBLIC KEY-----\n\
";

pub const OTHER_KEY: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDZ/ZUM2FMZ1cZr\n\
BfsrWzPQRajSq3U1pXQp8/YCuoxV4lz7L0IdWYaW5KIqNoNkw/8uwmTRpuOM85e0\n\
VenmcNvThG2zSU1B3dluIAspKzNJfUrXPrFke8j/qSUiq9txMDKsGIJqDiYV7Mmc\n\
MvHksrHJcGd00oauXAtTNRUGDdBj8dMQuOM+nVJEJTvZizxs9PDiRw1QaZrDStaP\n\
qHSDAqtNaH+JNdfwwvBHd0Wbx83sSgWIqcP0F4IKEO+Yy316AM9IkbMHwdLnZkSn\n\
BAk7CMsDrzEEcNpydQT1eRRm24Ve1vd1oYOXz+tAwnO2CPzuH8o+buD020hbRmjR\n\
e39bLQbPAgMBAAECggEAKPt8pyKQVP4UxJAmTVtjHVfLSngDnCdT9IMyEAdEVO0u\n\
r+aNlnj7TakEN81x3GLgucjALY4jn584OSYhyDoViemOujMgvC5aL1ME5iOCC+Hr\n\
TRYzQYHoIvCI08Ddi6UVEbe15Pxt+pc+vAfz5BwYQpfIS3U87tDNLEKBhlbYg8Fd\n\
HhBPKj0eugma9QI52I0q6B6OJK9NrssvNspLSoJm0lHAeX6xNjH5eaIxzKvWM2Cc\n\
WMOg1zPZkdMGNdZFUemoGj7Rj9EodJsm0e2/0UGXOKE0Qy0zcPQPFtFsb8pCTPKQ\n\
3XqagubCAdvbIVvSy/C0nwfRoHQYdGQQ0xAvyMb/wQKBgQD0RYq6E0NPkH8G+xoI\n\
Scua3dkcCd+cNShmyXwEqCToLyd6YfflRY/1iWGq3ZJJrDZO6iJVZXt4pia6KueA\n\
7hjw4LvpppokIVFCGHvoj9bCVVshrFGUFOOO22uSzywSjQgWhsr8sRRoqYQSG6ak\n\
dBmimNFGRQLUjvsP9LgiECTb7wKBgQDkdQHLyKGxmpBZQiZYYMQ+aHa0hF0bdGop\n\
FueOxqf2VzF7mdOdVnbod2f1JhqyCh8lkEFg054+a9w+2Chcs3zH8nbmTzWDz4tE\n\
UOTM+gmnOtE0jINziFwKmfLX5eCl2Esh107e4jfYQ7iIWUSxXiv1VEiBr5TIJQuO\n\
PLasKlUjIQKBgDhGFRGNAoK/7SO0kWi7Z3aECVJWS/d2n5oebL295tK+mj+tdiiR\n\
f/q27ZMpfFwQmmpPsh0uReWjkWRuIesn7wL/IwtO4E/WhRvO/Cy1hmo6s8XsJtcQ\n\
gOQWVI/7vlF/wA9Ael8AhI0gEFcDm75jKMy2m++uUlqZnektHYZrZbJtAoGARMU0\n\
FTP/+IaejT/saw42BNNNaGmv3WPd0SCj88a5KN52ds6HdQViJfhLwvAFeTKyzYvv\n\
IkaRjBjL498Nx1oAZfAG+q09XsBLG/V96nYaEc0SzM6/gze4/Tf6ciMwzLufYkB9\n\
7XoLdX5tPh4hH4NJmEAW03MXRmhgYiDEnG7h0gECgYEAz8dtahJiYfRab8rO9pR/\n\
Xcmksq7zi20ult/+N7+sgB3BlzVIRu+cZ99kiI5vIKQNGLcBmdXoSTTnl6KQucxn\n\
kvwF1HNK8R52D3se9T/HXofiQh7iEPZETnKE2x6Yg7eZiWci/cZvVgjxwyQiICnf\n\
a6l0L3XH9XlT7L+rx7RgMdM=\n\
-----END PRIVATE KEY-----\n\
";
