Feature: Safeguarding thresholds: without consent, and over an objection
  Two thresholds, not one (Data Protection Act 2018 Schedule 1 paragraph 18; Care Act 2014
  s42; Working Together to Safeguard Children). Sharing without consent to protect someone is
  lawful where consent cannot be given, with no risk of serious harm needed. Sharing over the
  objection of a person with capacity needs a risk of serious harm, and the reason is
  recorded. The police are statutory safeguarding partners for children (Children Act 2004 as
  amended in 2017).

  # DPA 2018 Sch 1 para 18; Mental Capacity Act 2005 s4
  Scenario: Para 18: consent cannot be given, so no serious harm is needed
    Given a social worker at Northgate City Council
    And the person lacks capacity for this decision
    And there is no risk of serious harm
    When they ask Northgate Hospitals for the discharge summary for safeguarding
    Then sharing is permitted
    And the legal basis includes Schedule 1 Part 2 paragraph 18
    And the legal basis includes best interests
    And they must record their justification
    And the deciding rule is ntg-safeguarding/consent-cannot-be-given

  # Mental Capacity Act 2005 s4 (best interests)
  Scenario: MCA s4: a district nurse shares a care plan for a person who cannot consent
    Given a district nurse at Northgate Community Health
    And the person lacks capacity for this decision
    When they ask Northgate City Council for the care plan for safeguarding
    Then sharing is permitted
    And the legal basis includes Mental Capacity Act 2005 section 4
    And the deciding rule is ntg-safeguarding/consent-cannot-be-given

  # MCA 2005 s4(6): wishes are weighed, but a person without capacity cannot refuse in law
  Scenario: MCA s4(6): the objection of a person who lacks capacity is weighed, not decisive
    Given a safeguarding lead at Northgate City Council
    And the person lacks capacity for this decision
    And the person has objected
    When they ask Castle Street Surgery for the GP summary for safeguarding
    Then sharing is permitted
    And rule ntg-safeguarding/person-objected is overridden
    And the reason mentions "taking account of any wishes they express"
    And the deciding rule is ntg-safeguarding/consent-cannot-be-given

  # DPA 2018 Sch 1 para 18(2): other grounds the request cannot yet express go to the lead
  Scenario: Para 18(2): capacity unknown and no consent: ask, or take it to the safeguarding lead
    Given a care coordinator at Northgate City Council
    And there is no risk of serious harm
    When they ask Northgate Mental Health for the mental health record for safeguarding
    Then sharing is not permitted
    And the reason mentions "cannot reasonably be obtained"
    And they must consult the Caldicott Guardian
    And the deciding rule is ntg-safeguarding/ask-for-consent-first
    And it would be permitted if the consent is explicit

  # DPA 2018 Sch 1 para 18: a person with capacity is asked first
  Scenario: Para 18: a person with capacity is asked for consent first
    Given a GP at Riverside Medical Practice
    And the person has capacity for this decision
    When they ask Northgate City Council for the safeguarding referral for safeguarding
    Then sharing is not permitted
    And the deciding rule is ntg-safeguarding/ask-for-consent-first

  # Common law overriding public interest; Care Act 2014 s42
  Scenario: Public interest: a capacitous adult's objection yields to a risk of serious harm, with advice
    Given a community matron at Northgate Community Health
    And the person has capacity for this decision
    And the person has objected
    And there is a risk of serious harm
    When they ask Riverside Medical Practice for the medication list for safeguarding
    Then sharing is permitted
    And rule ntg-safeguarding/person-objected is overridden
    And the legal basis includes overriding public interest
    And they must consult the Caldicott Guardian
    And they must record their justification
    And the reason mentions "whose risk it is"
    And the deciding rule is ntg-safeguarding/capable-adult-objects

  # Common law: a capacitous refusal without serious harm is respected
  Scenario: Public interest test: without serious harm a capacitous adult's objection stands
    Given a consultant at Northgate Hospitals
    And the person has capacity for this decision
    And the person has objected
    And there is no risk of serious harm
    When they ask Northgate City Council for the social care assessment for safeguarding
    Then sharing is not permitted
    And the deciding rule is ntg-safeguarding/person-objected
    And it would be permitted if the risk of serious harm is true

  # A refusal of consent counts as an objection; consent is never suggested over a refusal
  Scenario: Care Act s42: a refusal of consent is an objection, and consent is not suggested
    Given a social worker at Northgate City Council
    And the person has refused consent
    When they ask Northgate Hospitals for the test results for safeguarding
    Then sharing is not permitted
    And the deciding rule is ntg-safeguarding/person-objected
    And it would be permitted if the risk of serious harm is true

  # Care Act 2014 s42; DPA 2018 Sch 1 para 18
  Scenario: Care Act s42: lacking capacity and at risk of serious harm, the adult-at-risk rule applies
    Given a mental health nurse at Northgate Mental Health
    And the person lacks capacity for this decision
    And there is a risk of serious harm
    When they ask Northgate City Council for the risk assessment for safeguarding
    Then sharing is permitted
    And they must inform the subject
    And the deciding rule is ntg-safeguarding/adult-at-risk

  # Gender Recognition Act 2004 s22: safeguarding is not one of its exceptions
  Scenario: GRA s22: consent that cannot be given does not open gender history
    Given a social worker at Northgate City Council
    And the person lacks capacity for this decision
    When they ask Northgate Hospitals for the gender history for safeguarding
    Then sharing is not permitted
    And the deciding rule is restriction:gender-history

  # NHS England sexual health guidance: only serious harm opens the record for safeguarding
  Scenario: Sexual health guidance: without serious harm the record stays in the service
    Given a safeguarding lead at Northgate Hospitals
    And the person lacks capacity for this decision
    When they ask Northgate Community Health for the sexual health record for safeguarding
    Then sharing is not permitted
    And the deciding rule is restriction:sexual-health-record
    And the details mention "imposed by local policy"

  # NHS England sexual health guidance; common law public interest
  Scenario: Sexual health guidance: serious harm lifts the restriction over a capacitous objection
    Given a GP at Castle Street Surgery
    And the person has objected
    And there is a risk of serious harm
    When they ask Northgate Hospitals for the sexual health record for safeguarding
    Then sharing is permitted
    And rule restriction:sexual-health-record is overridden
    And the details mention "by its exception 'serious-harm'"
    And the deciding rule is ntg-safeguarding/capable-adult-objects

  # Caldicott principle 4: need to know
  Scenario: Caldicott 4: a receptionist takes no part even where consent cannot be given
    Given a receptionist at Riverside Medical Practice
    And the person lacks capacity for this decision
    When they ask Northgate City Council for the safeguarding referral for safeguarding
    Then sharing is not permitted
    And no agreement covers it

  # Children Act 2004 ss16E-16K (inserted by the Children and Social Work Act 2017)
  Scenario: Children Act 2004: the police, as safeguarding partners, protect a child at risk
    Given a police officer at Northgate Constabulary
    And there is a risk of serious harm to the child
    And the person is 12 years old
    When they ask Riverside Medical Practice for the GP summary for safeguarding
    Then sharing is permitted
    And the legal basis includes sections 16E to 16K
    And the legal basis includes Working Together to Safeguard Children
    And the deciding rule is ntg-safeguarding/child-at-risk

  # Children Act 2004 (safeguarding partners); Children Act 1989 s47
  Scenario: Children Act 2004: the council asks the police about a child at risk
    Given a social worker at Northgate City Council
    And there is a risk of serious harm to the child
    And the person is 9 years old
    When they ask Northgate Constabulary for the safeguarding referral for safeguarding
    Then sharing is permitted
    And the legal basis includes Children Act 1989 section 47
    And the deciding rule is ntg-safeguarding/child-at-risk

  # Working Together to Safeguard Children: consent is not needed to protect a child
  Scenario: Working Together: the police protect a child over an objection
    Given a police officer at Northgate Constabulary
    And the person's details are:
      | fact                 | value |
      | risk of serious harm | true  |
      | age                  | 14    |
      | objection            | true  |
    When they ask Northgate Hospitals for the discharge summary for safeguarding
    Then sharing is permitted
    And rule ntg-safeguarding/person-objected is overridden
    And rule ntg-safeguarding/police-adult-concerns-referred is overridden
    And the deciding rule is ntg-safeguarding/child-at-risk

  # Children Act 2004: the police are partners for children, not for adults
  Scenario: Children Act 2004: a police request about an adult goes to the safeguarding lead
    Given a police officer at Northgate Constabulary
    And there is a risk of serious harm
    And the person is 40 years old
    When they ask Northgate Hospitals for the discharge summary for safeguarding
    Then sharing is not permitted
    And they must consult the Caldicott Guardian
    And the deciding rule is ntg-safeguarding/police-adult-concerns-referred

  # Crime and Disorder Act 1998 s115: a crime request stays a routine police request
  Scenario: CDA 1998 s115: the same child, asked about for law enforcement, is referred
    Given a police officer at Northgate Constabulary
    And there is a risk of serious harm to the child
    And the person is 12 years old
    When they ask Riverside Medical Practice for the GP summary for law enforcement
    Then sharing is not permitted
    And the deciding rule is ntg-police/refer-to-caldicott-guardian

  # Gender Recognition Act 2004 s22 binds the police as safeguarding partners too
  Scenario: GRA s22: protecting a child does not open gender history to the police
    Given a police officer at Northgate Constabulary
    And there is a risk of serious harm to the child
    And the person is 15 years old
    When they ask Northgate Hospitals for the gender history for safeguarding
    Then sharing is not permitted
    And the deciding rule is restriction:gender-history
